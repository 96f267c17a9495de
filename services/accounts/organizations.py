"""People and organizations: sign up, log in, invitations, members and API keys.

Passwords are hashed with Argon2id (in a thread: hashing is deliberately slow). API keys and
invitation tokens are random secrets shown once; only their SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account_tables import Invitation
from models.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from models.tenancy_tables import MEMBERSHIP_ROLES, ApiKey, Membership, Organization, User
from services.bots.publishing import create_organization

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")  # from Django (BSD-3-Clause)
API_KEY_PREFIX = "bbk_"
INVITATION_PREFIX = "bbi_"
INVITATION_DAYS = 7
MAX_EMAIL_LENGTH = 254
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()
_NO_USER_HASH = _hasher.hash("no such user: verified anyway so timing does not tell")


def now() -> datetime:
    return datetime.now(UTC)


def secret_digest(secret: str) -> str:
    """The stored form of a random secret (API key, refresh or invitation token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (lower case, 8 characters or more)."""
    return frozenset(COMMON_PASSWORDS.read_text(encoding="utf-8").split())


def check_password(password: str) -> None:
    """Refuse passwords that are blank, short, very long or among the most common ones."""
    if not password.strip():
        raise InvalidInput("the password cannot be empty or only spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"the password can have at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() in common_passwords():
        raise InvalidInput("this password is one of the most common passwords; choose another")


async def hash_password(password: str) -> str:
    check_password(password)
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:  # before the pattern, whose work grows with the square
        raise InvalidInput(f"an email address has at most {MAX_EMAIL_LENGTH} characters")
    if not EMAIL_PATTERN.match(email):
        raise InvalidInput(f"{email!r} is not an email address")
    return email


def check_role(role: str) -> str:
    if role not in MEMBERSHIP_ROLES:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(MEMBERSHIP_ROLES)}")
    return role


def slug_for(name: str) -> str:
    """A URL-safe, unique-enough slug: the name's words plus a random suffix."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "org"
    return f"{words}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class MemberOf:
    """A user in one organization with a role."""

    user: User
    organization: Organization
    role: str


async def sign_up(
    session: AsyncSession, email: str, password: str, name: str, organization_name: str
) -> MemberOf:
    """A new organization owned by the account with this email: a new account, or the
    existing one when `password` is its password. Any other password answers like a wrong
    log-in, never "this email has an account"."""
    email = check_email(email)
    check_password(password)
    if not organization_name.strip():
        raise InvalidInput("the organization needs a name")
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name.strip(), password_hash=await hash_password(password))
        session.add(user)
    elif not await password_matches(user.password_hash, password):
        raise Unauthenticated("wrong email or password")
    organization = await create_organization(
        session, organization_name.strip(), slug_for(organization_name)
    )
    session.add(Membership(user_id=user.id, organization_id=organization.id, role="owner"))
    await session.flush()
    return MemberOf(user, organization, "owner")


async def log_in(
    session: AsyncSession, email: str, password: str, organization_id: uuid.UUID | None = None
) -> MemberOf:
    """The user with these credentials in the given (else their first) organization."""
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    matches = await password_matches(user.password_hash if user else _NO_USER_HASH, password)
    if user is None or not matches:
        raise Unauthenticated("wrong email or password")
    member = await membership(session, user.id, organization_id)
    if member is None:
        raise Unauthenticated("you are not a member of that organization")
    return member


def _memberships() -> Select[tuple[Membership, User, Organization]]:
    return (
        select(Membership, User, Organization)
        .join(User, User.id == Membership.user_id)
        .join(Organization, Organization.id == Membership.organization_id)
        .order_by(Membership.created_at)
    )


async def membership(
    session: AsyncSession, user_id: uuid.UUID, organization_id: uuid.UUID | None
) -> MemberOf | None:
    """The user's role in an organization (their oldest membership when none is named)."""
    query = _memberships().where(Membership.user_id == user_id).limit(1)
    if organization_id is not None:
        query = query.where(Membership.organization_id == organization_id)
    row = (await session.execute(query)).first()
    return MemberOf(row[1], row[2], row[0].role) if row else None


async def members(session: AsyncSession, organization_id: uuid.UUID) -> list[MemberOf]:
    rows = await session.execute(
        _memberships().where(Membership.organization_id == organization_id)
    )
    return [MemberOf(user, organization, m.role) for m, user, organization in rows]


async def organizations_of(session: AsyncSession, user_id: uuid.UUID) -> list[MemberOf]:
    rows = await session.execute(_memberships().where(Membership.user_id == user_id))
    return [MemberOf(user, organization, m.role) for m, user, organization in rows]


async def _member_row(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    row = await session.scalar(
        select(Membership)
        .where(Membership.organization_id == organization_id, Membership.user_id == user_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("no such member")
    return row


async def _keep_an_owner(session: AsyncSession, member: Membership, acting_role: str) -> None:
    """Refuse touching an owner unless the caller is one, and losing the last owner."""
    if member.role != "owner":
        return
    if acting_role != "owner":
        raise Forbidden("only an owner can change or remove an owner")
    owners = await session.scalar(
        select(func.count()).where(
            Membership.organization_id == member.organization_id, Membership.role == "owner"
        )
    )
    if (owners or 0) <= 1:
        raise InvalidInput("the organization needs at least one owner")


async def set_member_role(
    session: AsyncSession,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    acting_role: str,
) -> MemberOf:
    role = check_role(role)
    if role == "owner" and acting_role != "owner":
        raise Forbidden("only an owner can make someone an owner")
    member = await _member_row(session, organization_id, user_id)
    if member.role != role:
        await _keep_an_owner(session, member, acting_role)
        member.role = role
        await session.flush()
    found = await membership(session, user_id, organization_id)
    assert found is not None
    return found


async def remove_member(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID, acting_role: str
) -> None:
    member = await _member_row(session, organization_id, user_id)
    await _keep_an_owner(session, member, acting_role)
    await session.delete(member)
    await session.flush()


# --- invitations ------------------------------------------------------------------------------


async def invite(
    session: AsyncSession,
    organization_id: uuid.UUID,
    email: str,
    role: str,
    invited_by: uuid.UUID | None,
) -> tuple[Invitation, str]:
    """An invitation and its token (shown once, to hand to the invitee)."""
    email, role = check_email(email), check_role(role)
    already = await session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id, User.email == email)
    )
    if already:
        raise InvalidInput(f"{email} is already a member of this organization")
    token = new_secret(INVITATION_PREFIX)
    invitation = Invitation(
        organization_id=organization_id,
        email=email,
        role=role,
        token_hash=secret_digest(token),
        invited_by=invited_by,
        expires_at=now() + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


async def invited_account(session: AsyncSession, token: str) -> str | None:
    """The email of a usable invitation when it names an existing account (accepting it then
    checks that account's password), else None."""
    return await session.scalar(
        select(User.email)
        .join(Invitation, Invitation.email == User.email)
        .where(
            Invitation.token_hash == secret_digest(token),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at >= now(),
        )
    )


async def accept_invitation(
    session: AsyncSession, token: str, password: str, name: str = ""
) -> MemberOf:
    """Join the invitation's organization: an existing user proves it with their password,
    a new one is created with it."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == secret_digest(token)).with_for_update()
    )
    if invitation is None or invitation.accepted_at or invitation.expires_at < now():
        raise NotFound("this invitation does not exist, was already used or has expired")
    user = await session.scalar(select(User).where(User.email == invitation.email))
    if user is None:
        user = User(
            email=invitation.email, name=name.strip(), password_hash=await hash_password(password)
        )
        session.add(user)
        await session.flush()
    elif not await password_matches(user.password_hash, password):
        raise Unauthenticated(f"wrong password for the existing account {invitation.email}")
    elif await membership(session, user.id, invitation.organization_id):
        raise InvalidInput(f"{invitation.email} is already a member of this organization")
    session.add(
        Membership(
            user_id=user.id, organization_id=invitation.organization_id, role=invitation.role
        )
    )
    invitation.accepted_at = now()
    await session.flush()
    organization = await session.get(Organization, invitation.organization_id)
    assert organization is not None
    return MemberOf(user, organization, invitation.role)


# --- API keys ---------------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession, organization_id: uuid.UUID, name: str
) -> tuple[ApiKey, str]:
    """A new API key and its secret value (shown once: only its hash is kept)."""
    if not name.strip():
        raise InvalidInput("the API key needs a name")
    secret = new_secret(API_KEY_PREFIX)
    key = ApiKey(
        organization_id=organization_id,
        name=name.strip(),
        prefix=secret[:12],
        key_hash=secret_digest(secret),
    )
    session.add(key)
    await session.flush()
    return key, secret


async def api_key_by_secret(session: AsyncSession, secret: str) -> ApiKey:
    """The live key with this secret (and note its use), else `Unauthenticated`."""
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == secret_digest(secret)))
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("this API key is unknown or has been revoked")
    key.last_used_at = now()
    await session.flush()
    return key


async def api_keys(session: AsyncSession, organization_id: uuid.UUID) -> list[ApiKey]:
    return list(
        await session.scalars(
            select(ApiKey)
            .where(ApiKey.organization_id == organization_id)
            .order_by(ApiKey.created_at)
        )
    )


async def revoke_api_key(
    session: AsyncSession, organization_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.organization_id != organization_id:
        raise NotFound("no such API key")
    key.revoked_at = key.revoked_at or now()
    await session.flush()
    return key
