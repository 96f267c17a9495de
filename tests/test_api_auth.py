"""Identity and tenancy over GraphQL: accounts, tokens, refresh rotation, API keys, invitations."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.settings import Settings
from models.tenancy_tables import ApiKey, User
from services.accounts.organizations import now
from services.accounts.tokens import issue_access_token
from tests.graphql_client import PASSWORD, GraphQL, sign_up

ME = "{ me { role user { email } organization { id name } } }"
MEMBERS = "{ members { role user { email } } }"
LOG_IN = """mutation($email: String!, $password: String!) {
  logIn(email: $email, password: $password) { accessToken refreshToken member { role } } }"""
REFRESH = """mutation($token: String!) {
  refreshTokens(refreshToken: $token) { accessToken refreshToken } }"""
CREATE_KEY = """mutation($name: String!) {
  createApiKey(name: $name) { secret apiKey { id name prefix revokedAt } } }"""
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }"
INVITE = """mutation($email: String!, $role: String!) {
  inviteMember(email: $email, role: $role) { token role email } }"""
ACCEPT = """mutation($token: String!, $password: String!) {
  acceptInvitation(token: $token, password: $password) { accessToken member { role } } }"""


async def test_sign_up_then_log_in_and_wrong_passwords_are_refused(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, payload = await sign_up(api, org="Acme", email="Ana@Example.com")
    me = (await owner(ME))["me"]
    assert me == {
        "role": "owner",
        "user": {"email": "ana@example.com"},
        "organization": {"id": payload["member"]["organization"]["id"], "name": "Acme"},
    }

    anonymous = GraphQL(api)
    wrong = await anonymous.error(LOG_IN, email="ana@example.com", password="not the password")
    assert (wrong["code"], wrong["message"]) == ("UNAUTHENTICATED", "wrong email or password")
    unknown = await anonymous.error(LOG_IN, email="nobody@example.com", password=PASSWORD)
    assert unknown["message"] == wrong["message"]  # no hint whether the account exists
    logged = (await anonymous(LOG_IN, email="ANA@example.com", password=PASSWORD))["logIn"]
    assert logged["member"]["role"] == "owner"
    assert (await GraphQL(api, logged["accessToken"])(ME))["me"]["user"]["email"] == (
        "ana@example.com"
    )

    again = await anonymous.error(
        'mutation { signUp(email: "ana@example.com", password: "not anas password", '
        'organizationName: "Other") { accessToken } }'
    )
    assert (again["code"], again["message"]) == ("UNAUTHENTICATED", "wrong email or password")
    short = await anonymous.error(
        'mutation { signUp(email: "b@example.com", password: "short", organizationName: "O") '
        "{ accessToken } }"
    )
    assert short["code"] == "BAD_USER_INPUT" and "at least 8" in short["message"]

    async with make_session_factory(db_engine)() as session:
        stored = await session.scalar(select(User.password_hash).where(User.email.like("ana@%")))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_missing_bad_and_expired_tokens_are_unauthenticated(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    _owner, payload = await sign_up(api)
    user_id = uuid.UUID(payload["member"]["user"]["id"])
    org_id = uuid.UUID(payload["member"]["organization"]["id"])

    missing = await GraphQL(api).error(ME)
    assert missing["code"] == "UNAUTHENTICATED" and "log in" in missing["message"]
    garbage = await GraphQL(api, "not-a-token").error(ME)
    assert (garbage["code"], garbage["message"]) == (
        "UNAUTHENTICATED",
        "the access token is invalid",
    )
    forged = issue_access_token(
        test_settings.model_copy(update={"secret_key": "another key"}), user_id, org_id
    )
    assert (await GraphQL(api, forged).error(ME))["code"] == "UNAUTHENTICATED"

    an_hour_ago = now() - timedelta(hours=1)
    expired = issue_access_token(test_settings, user_id, org_id, issued_at=an_hour_ago)
    error = await GraphQL(api, expired).error(ME)
    assert error["code"] == "UNAUTHENTICATED" and "expired" in error["message"]
    assert "locations" in error and "stack" not in str(error).lower()


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(
    api: httpx.AsyncClient,
) -> None:
    _, first = await sign_up(api)
    anonymous = GraphQL(api)

    second = (await anonymous(REFRESH, token=first["refreshToken"]))["refreshTokens"]
    assert second["refreshToken"] != first["refreshToken"]
    assert (await GraphQL(api, second["accessToken"])(ME))["me"]["role"] == "owner"

    reused = await anonymous.error(REFRESH, token=first["refreshToken"])
    assert reused["code"] == "UNAUTHENTICATED" and "already used" in reused["message"]
    stolen = await anonymous.error(REFRESH, token=second["refreshToken"])
    assert stolen["code"] == "UNAUTHENTICATED"  # reuse revoked every token of the user
    assert (await anonymous.error(REFRESH, token="bbr_made-up"))["code"] == "UNAUTHENTICATED"


async def test_api_keys_are_shown_once_stored_hashed_and_revocable(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    created = (await owner(CREATE_KEY, name="CI"))["createApiKey"]
    secret, key = created["secret"], created["apiKey"]
    assert secret.startswith("bbk_") and secret.startswith(key["prefix"])

    listed = (await owner("{ apiKeys { id name prefix } }"))["apiKeys"]
    assert listed == [{"id": key["id"], "name": "CI", "prefix": key["prefix"]}]
    async with make_session_factory(db_engine)() as session:
        stored = await session.scalar(select(ApiKey.key_hash))
    assert stored is not None and secret not in stored

    integrator = GraphQL(api, secret)
    assert len((await integrator(MEMBERS))["members"]) == 1
    response = await api.post("/graphql", json={"query": MEMBERS}, headers={"X-API-Key": secret})
    assert response.json()["data"]["members"][0]["role"] == "owner"

    assert (await owner(REVOKE_KEY, id=key["id"]))["revokeApiKey"]["revokedAt"]
    revoked = await integrator.error(MEMBERS)
    assert revoked["code"] == "UNAUTHENTICATED" and "revoked" in revoked["message"]


async def test_invited_agents_join_and_cannot_manage(api: httpx.AsyncClient) -> None:
    owner, payload = await sign_up(api, org="Acme")
    invitation = (await owner(INVITE, email="Agent@Example.com", role="agent"))["inviteMember"]
    assert (invitation["email"], invitation["role"]) == ("agent@example.com", "agent")

    anonymous = GraphQL(api)
    joined = await anonymous(ACCEPT, token=invitation["token"], password="agent password")
    agent = GraphQL(api, joined["acceptInvitation"]["accessToken"])
    me = (await agent(ME))["me"]
    assert me["role"] == "agent"
    assert me["organization"]["id"] == payload["member"]["organization"]["id"]
    assert sorted(m["role"] for m in (await owner(MEMBERS))["members"]) == ["agent", "owner"]

    forbidden = await agent.error(CREATE_KEY, name="sneaky")
    assert forbidden["code"] == "FORBIDDEN" and "admin or owner" in forbidden["message"]
    used = await anonymous.error(ACCEPT, token=invitation["token"], password="agent password")
    assert used["code"] == "NOT_FOUND"
    twice = await owner.error(INVITE, email="agent@example.com", role="admin")
    assert twice["code"] == "BAD_USER_INPUT" and "already a member" in twice["message"]
    bad_role = await owner.error(INVITE, email="x@example.com", role="emperor")
    assert bad_role["code"] == "BAD_USER_INPUT"


async def test_an_existing_user_joins_a_second_organization_with_their_password(
    api: httpx.AsyncClient,
) -> None:
    first, _ = await sign_up(api, org="First", email="sam@example.com")
    second, second_payload = await sign_up(api, org="Second")
    token = (await second(INVITE, email="sam@example.com", role="admin"))["inviteMember"]["token"]

    wrong = await GraphQL(api).error(ACCEPT, token=token, password="not sams password")
    assert wrong["code"] == "UNAUTHENTICATED"
    joined = (await GraphQL(api)(ACCEPT, token=token, password=PASSWORD))["acceptInvitation"]
    assert joined["member"]["role"] == "admin"
    orgs = (await first("{ myOrganizations { role organization { name } } }"))["myOrganizations"]
    assert [(o["organization"]["name"], o["role"]) for o in orgs] == [
        ("First", "owner"),
        ("Second", "admin"),
    ]
    assert second_payload["member"]["role"] == "owner"


async def test_roles_change_and_members_leave_but_an_owner_always_remains(
    api: httpx.AsyncClient,
) -> None:
    owner, payload = await sign_up(api)
    owner_id = payload["member"]["user"]["id"]
    clients = {}
    for role in ("admin", "agent"):
        token = (await owner(INVITE, email=f"{role}@example.com", role=role))["inviteMember"]
        joined = await GraphQL(api)(ACCEPT, token=token["token"], password="their password")
        clients[role] = GraphQL(api, joined["acceptInvitation"]["accessToken"])
    ids = {
        m["user"]["email"]: m["user"]["id"]
        for m in (await owner("{ members { user { id email } } }"))["members"]
    }
    set_role = """mutation($id: ID!, $role: String!) {
      setMemberRole(userId: $id, role: $role) { role } }"""
    remove = "mutation($id: ID!) { removeMember(userId: $id) }"
    admin, agent = clients["admin"], clients["agent"]
    agent_id = ids["agent@example.com"]

    promoted = await admin(set_role, id=agent_id, role="admin")
    assert promoted["setMemberRole"]["role"] == "admin"
    assert (await admin.error(set_role, id=agent_id, role="owner"))["code"] == "FORBIDDEN"
    assert (await admin.error(remove, id=owner_id))["code"] == "FORBIDDEN"
    last = await owner.error(set_role, id=owner_id, role="admin")
    assert last["code"] == "BAD_USER_INPUT" and "at least one owner" in last["message"]

    await owner(remove, id=agent_id)
    gone = await agent.error(ME)
    assert gone["code"] == "UNAUTHENTICATED" and "no longer a member" in gone["message"]
    assert sorted(m["role"] for m in (await owner(MEMBERS))["members"]) == ["admin", "owner"]


async def test_repeated_wrong_passwords_lock_the_email_out_for_a_while(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    await sign_up(api, email="guessed@example.com")
    await sign_up(api, email="bystander@example.com")
    anonymous = GraphQL(api)
    for attempt in range(5):
        wrong = await anonymous.error(
            LOG_IN, email="guessed@example.com", password=f"guess {attempt}"
        )
        assert wrong["code"] == "UNAUTHENTICATED"
    locked = await anonymous.error(LOG_IN, email="Guessed@example.com", password=PASSWORD)
    assert locked["code"] == "TOO_MANY_ATTEMPTS" and "try again in 15 minutes" in locked["message"]
    assert (await anonymous(LOG_IN, email="bystander@example.com", password=PASSWORD))["logIn"]

    async with db_engine.begin() as connection:  # the failures age out of the window
        await connection.execute(
            text("UPDATE log_in_attempts SET window_started_at = now() - interval '16 minutes'")
        )
    assert (await anonymous(LOG_IN, email="guessed@example.com", password=PASSWORD))["logIn"]
    async with db_engine.connect() as connection:  # a success forgets the failures
        left = await connection.scalar(text("SELECT count(*) FROM log_in_attempts"))
    assert left == 0
