"""Errors a caller can cause, raised by the code that owns the data and shown by every API.

Each has a stable `code` (the GraphQL `extensions.code`) and a human message; `InvalidInput`
also lists every problem found, so a user can fix them all at once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class DomainError(Exception):
    """A refusal with a code and a message meant for the person who asked."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Extra fields for the error's `extensions` (besides `code`)."""
        return {}


class InvalidInput(DomainError):
    """The input is wrong; `problems` says where and why (each `{message, ...}`)."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def details(self) -> dict[str, Any]:
        return {"problems": self.problems} if self.problems else {}


class NotFound(DomainError):
    """No such object for this caller (a foreign object answers exactly like a missing one)."""

    code = "NOT_FOUND"


class Conflict(DomainError):
    """Another request wrote the same unique thing at the same moment."""

    code = "CONFLICT"


class TooManyAttempts(DomainError):
    """Too many attempts in a short while; the message and `retry_after` (seconds) say when
    to try again (HTTP answers 429 with `Retry-After`)."""

    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        return {"retryAfter": self.retry_after}


class Unauthenticated(DomainError):
    """No valid credentials: missing, wrong, expired or revoked."""

    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    """Valid credentials whose role does not allow this."""

    code = "FORBIDDEN"


class PayloadTooLarge(DomainError):
    """An upload over the size limit."""

    code = "PAYLOAD_TOO_LARGE"


def pydantic_problems(error: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """One problem per pydantic error, `{field, message}`, never echoing the input value."""
    problems = []
    for detail in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in (prefix, *detail["loc"]) if part != "")
        problems.append({"field": field, "message": f"{field}: {detail['msg']}"})
    return problems


def refuse(message: str, problems: list[dict[str, Any]]) -> InvalidInput:
    """An `InvalidInput` whose message also lists each problem."""
    details = "; ".join(problem["message"] for problem in problems)
    return InvalidInput(f"{message}: {details}" if details else message, problems)


def checked_settings(
    what: str,
    config: tuple[type[BaseModel], dict[str, Any]],
    secrets: tuple[type[BaseModel], dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A (model, value) pair each for config and secrets, validated; every problem at once."""
    problems: list[dict[str, Any]] = []
    parsed: list[BaseModel] = []
    for prefix, (model, value) in (("config", config), ("secrets", secrets)):
        try:
            parsed.append(model.model_validate(value))
        except ValidationError as error:
            problems.extend(pydantic_problems(error, prefix))
    if problems:
        raise refuse(f"invalid {what} settings", problems)
    config_model, secrets_model = parsed
    return config_model.model_dump(mode="json"), secrets_model.model_dump(mode="json")
