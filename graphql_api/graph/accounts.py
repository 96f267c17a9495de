"""GraphQL for identity and tenancy: sign up, log in, refresh, members, invitations, API keys."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from graphql_api.auth import MANAGERS, user_of
from graphql_api.graph.context import (
    password_attempt,
    platform_of,
    require_caller,
    throttle_anonymous,
    transaction,
)
from graphql_api.ids import parse_id
from models.errors import Forbidden, Unauthenticated
from models.tenancy_tables import ApiKey as ApiKeyRow
from services.accounts import organizations as accounts
from services.accounts.tokens import issue_tokens, log_out_everywhere, rotate_refresh_token


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    name: str


@strawberry.type
class Organization:
    id: strawberry.ID
    name: str
    slug: str


@strawberry.type(description="A user's role in an organization.")
class Member:
    user: User
    organization: Organization
    role: str

    @classmethod
    def of(cls, member: accounts.MemberOf) -> Member:
        user, org = member.user, member.organization
        return cls(
            user=User(id=strawberry.ID(str(user.id)), email=user.email, name=user.name),
            organization=Organization(id=strawberry.ID(str(org.id)), name=org.name, slug=org.slug),
            role=member.role,
        )


@strawberry.type(description="Tokens for one organization: send `Authorization: Bearer <access>`.")
class AuthPayload:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds the access token stays valid.")
    member: Member


@strawberry.type
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The key's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKeyRow) -> ApiKey:
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type
class CreatedApiKey:
    api_key: ApiKey
    secret: str = strawberry.field(description="The key itself; shown only this once.")


@strawberry.type
class CreatedInvitation:
    id: strawberry.ID
    email: str
    role: str
    expires_at: datetime
    token: str = strawberry.field(description="Hand it to the invitee; shown only this once.")


async def _payload(info: Info, member: accounts.MemberOf) -> AuthPayload:
    async with transaction(info) as session:
        pair = await issue_tokens(
            session, platform_of(info).settings, member.user.id, member.organization.id
        )
    return AuthPayload(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        member=Member.of(member),
    )


@strawberry.type
class AccountQuery:
    @strawberry.field(description="The caller: their user and role in this organization.")
    async def me(self, info: Info) -> Member:
        caller = await require_caller(info)
        async with transaction(info) as session:
            member = await accounts.membership(session, user_of(caller), caller.organization_id)
        if member is None:
            raise Unauthenticated("you are no longer a member of this organization")
        return Member.of(member)

    @strawberry.field(description="The organizations the caller belongs to.")
    async def my_organizations(self, info: Info) -> list[Member]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            return [Member.of(m) for m in await accounts.organizations_of(session, user_of(caller))]

    @strawberry.field(description="Members of the caller's organization.")
    async def members(self, info: Info) -> list[Member]:
        caller = await require_caller(info)
        async with transaction(info) as session:
            return [Member.of(m) for m in await accounts.members(session, caller.organization_id)]

    @strawberry.field(description="The organization's API keys (never their secrets).")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            return [ApiKey.of(k) for k in await accounts.api_keys(session, caller.organization_id)]


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="Create an organization you own, with a new account (or, given its "
        "password, your existing one)."
    )
    async def sign_up(
        self, info: Info, email: str, password: str, organization_name: str, name: str = ""
    ) -> AuthPayload:
        throttle_anonymous(info)
        async with password_attempt(info, email):
            async with transaction(info) as session:
                member = await accounts.sign_up(session, email, password, name, organization_name)
        return await _payload(info, member)

    @strawberry.mutation(description="Tokens for your first (or the named) organization.")
    async def log_in(
        self, info: Info, email: str, password: str, organization_id: strawberry.ID | None = None
    ) -> AuthPayload:
        throttle_anonymous(info)
        org = parse_id(organization_id, "organization") if organization_id else None
        async with password_attempt(info, email):
            async with transaction(info) as session:
                member = await accounts.log_in(session, email, password, org)
        return await _payload(info, member)

    @strawberry.mutation(description="Spend a refresh token for new tokens (each works once).")
    async def refresh_tokens(self, info: Info, refresh_token: str) -> AuthPayload:
        async with transaction(info) as session:
            claims, pair = await rotate_refresh_token(
                session, platform_of(info).settings, refresh_token
            )
            member = await accounts.membership(session, claims.user_id, claims.organization_id)
            if member is None:
                raise Unauthenticated("you are no longer a member of this organization")
        return AuthPayload(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            member=Member.of(member),
        )

    @strawberry.mutation(description="Revoke every access and refresh token of the caller.")
    async def log_out_everywhere(self, info: Info) -> bool:
        caller = await require_caller(info)
        async with transaction(info) as session:
            await log_out_everywhere(session, user_of(caller))
        return True

    @strawberry.mutation(description="Invite someone by email; they accept with the token.")
    async def invite_member(self, info: Info, email: str, role: str) -> CreatedInvitation:
        caller = await require_caller(info, MANAGERS)
        if role == "owner" and caller.role != "owner":
            raise Forbidden("only an owner can invite another owner")
        async with transaction(info) as session:
            invitation, token = await accounts.invite(
                session, caller.organization_id, email, role, caller.user_id
            )
        return CreatedInvitation(
            id=strawberry.ID(str(invitation.id)),
            email=invitation.email,
            role=invitation.role,
            expires_at=invitation.expires_at,
            token=token,
        )

    @strawberry.mutation(
        description="Join an organization: an existing account gives its password, a new one "
        "chooses it."
    )
    async def accept_invitation(
        self, info: Info, token: str, password: str, name: str = ""
    ) -> AuthPayload:
        throttle_anonymous(info)
        async with transaction(info) as session:
            existing_account = await accounts.invited_account(session, token)
        async with password_attempt(info, existing_account):
            async with transaction(info) as session:
                member = await accounts.accept_invitation(session, token, password, name)
        return await _payload(info, member)

    @strawberry.mutation(description="Change a member's role (owners only for owners).")
    async def set_member_role(self, info: Info, user_id: strawberry.ID, role: str) -> Member:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            member = await accounts.set_member_role(
                session, caller.organization_id, parse_id(user_id, "member"), role, caller.role
            )
        return Member.of(member)

    @strawberry.mutation(description="Remove someone from the organization.")
    async def remove_member(self, info: Info, user_id: strawberry.ID) -> strawberry.ID:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            await accounts.remove_member(
                session, caller.organization_id, parse_id(user_id, "member"), caller.role
            )
        return user_id

    @strawberry.mutation(description="A new API key for the organization (role admin).")
    async def create_api_key(self, info: Info, name: str) -> CreatedApiKey:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            key, secret = await accounts.create_api_key(session, caller.organization_id, name)
        return CreatedApiKey(api_key=ApiKey.of(key), secret=secret)

    @strawberry.mutation(description="Revoke an API key: it stops working at once.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        caller = await require_caller(info, MANAGERS)
        async with transaction(info) as session:
            key = await accounts.revoke_api_key(
                session, caller.organization_id, parse_id(id, "API key")
            )
        return ApiKey.of(key)
