"""Exact money: prices as `Decimal` in and out, integers in the currency's minor units inside.

Never a float: a price string such as "19.99" becomes 1999 cents, the platform's commission is
rounded half up to the cent, and the seller gets the rest, so the two always add up to the price.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from models.errors import InvalidInput

# Stripe's zero-decimal and three-decimal currencies; every other one has cents.
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
MAX_MINOR = 99_999_999  # Stripe's largest amount


def exponent(currency: str) -> int:
    """Digits after the decimal point in `currency`'s minor unit."""
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def checked_currency(currency: str) -> str:
    code = currency.strip().lower()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise InvalidInput(f"{currency!r} is not an ISO currency code such as EUR or USD")
    return code


def to_minor(amount: Decimal | str, currency: str) -> int:
    """The amount in minor units; refused when negative, too large or finer than a cent."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise InvalidInput(f"{amount!r} is not an amount such as 19.99") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"{amount} is not a price (it must be zero or more)")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        places = exponent(currency)
        raise InvalidInput(f"{amount} {currency.upper()} has more than {places} decimal places")
    if scaled > MAX_MINOR:
        raise InvalidInput(f"{amount} {currency.upper()} is more than Stripe accepts")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Minor units back as a `Decimal` with the currency's places (1999 → 19.99)."""
    return Decimal(minor).scaleb(-exponent(currency))


def split(amount_minor: int, commission_percent: Decimal) -> tuple[int, int]:
    """(platform commission, seller revenue) of a sale, in minor units, adding up exactly."""
    commission = (Decimal(amount_minor) * commission_percent / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(commission), amount_minor - int(commission)
