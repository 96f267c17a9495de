"""Session tokens: short-lived JWT access tokens and rotating refresh tokens.

An access token (HS256, signed with the settings' secret key) names the user and the
organization; the role is looked up on every request, so removing a member takes effect at
once. It also carries the user's token generation, which `log_out_everywhere` raises: every
access token issued before stops working at once. A refresh token is a random secret stored
hashed and valid once: using it revokes it and issues a new pair. Presenting an already used
refresh token revokes every refresh token of that user (it was probably stolen).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.account_tables import RefreshToken
from models.errors import Unauthenticated
from models.settings import Settings
from models.tenancy_tables import User
from services.accounts.organizations import new_secret, now, secret_digest

ALGORITHM = "HS256"
REFRESH_PREFIX = "bbr_"


def signing_key(settings: Settings) -> bytes:
    """The JWT key: derived from the secret key, so it never equals the secrets' encryption key."""
    return hashlib.sha256(
        b"botbuilder access tokens:" + settings.resolved_secret_key().encode()
    ).digest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    generation: int = 0  # the user's token generation when issued (see `log_out_everywhere`)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid


def issue_access_token(
    settings: Settings,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    issued_at: datetime | None = None,
    generation: int = 0,
) -> str:
    issued_at = issued_at or now()
    claims = {
        "sub": str(user_id),
        "org": str(organization_id),
        "typ": "access",
        "gen": generation,
        "iat": issued_at,
        "exp": issued_at + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


def read_access_token(settings: Settings, token: str) -> AccessClaims:
    """The claims of a valid access token, else `Unauthenticated` saying why."""
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "org"]},
        )
        if claims.get("typ") != "access":
            raise jwt.InvalidTokenError("not an access token")
        generation = claims.get("gen", 0)
        if not isinstance(generation, int):
            raise jwt.InvalidTokenError("bad token generation")
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["org"]), generation)
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired; refresh it") from None
    except (jwt.InvalidTokenError, ValueError):
        raise Unauthenticated("the access token is invalid") from None


async def issue_tokens(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, organization_id: uuid.UUID
) -> TokenPair:
    """A new access token and a new refresh token (stored hashed)."""
    refresh = new_secret(REFRESH_PREFIX)
    session.add(
        RefreshToken(
            user_id=user_id,
            organization_id=organization_id,
            token_hash=secret_digest(refresh),
            expires_at=now() + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.flush()
    generation = await session.scalar(select(User.token_generation).where(User.id == user_id))
    access = issue_access_token(settings, user_id, organization_id, generation=generation or 0)
    return TokenPair(access, refresh, settings.access_token_minutes * 60)


async def rotate_refresh_token(
    session: AsyncSession, settings: Settings, refresh_token: str
) -> tuple[AccessClaims, TokenPair]:
    """Spend a refresh token for a new pair; a reused token revokes all of the user's tokens."""
    stored = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == secret_digest(refresh_token))
        .with_for_update()
    )
    if stored is None:
        raise Unauthenticated("the refresh token is invalid")
    if stored.revoked_at is not None:
        await revoke_refresh_tokens(session, stored.user_id)
        await session.commit()  # the revocation must survive the refusal below
        raise Unauthenticated("the refresh token was already used; log in again")
    if stored.expires_at < now():
        raise Unauthenticated("the refresh token has expired; log in again")
    stored.revoked_at = now()
    pair = await issue_tokens(session, settings, stored.user_id, stored.organization_id)
    return AccessClaims(stored.user_id, stored.organization_id), pair


async def log_out_everywhere(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every access token issued so far (a new token generation) and every refresh token of
    the user stop working."""
    await session.execute(
        update(User).where(User.id == user_id).values(token_generation=User.token_generation + 1)
    )
    await revoke_refresh_tokens(session, user_id)


async def revoke_refresh_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every live refresh token of the user stops working."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
