"""Per-organization integration settings over GraphQL: validated, secrets sealed and write-only."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.integration_tables import IntegrationCredential
from models.secret_box import SecretBox
from tests.graphql_client import GraphQL, sign_up

SET = """mutation($kind: IntegrationKind!, $config: JSON!, $secrets: JSON) {
  setIntegration(kind: $kind, config: $config, secrets: $secrets) { kind config hasSecrets } }"""
LIST = "{ integrations { kind config hasSecrets updatedAt } }"
SMTP = {
    "host": "smtp.example.com",
    "port": 587,
    "username": "bot",
    "from_address": "bot@example.com",
    "from_name": "Acme",
}


async def test_settings_are_stored_sealed_and_never_returned(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    stored = await owner(SET, kind="SMTP", config=SMTP, secrets={"password": "hunter2-smtp"})
    assert stored["setIntegration"] == {
        "kind": "SMTP",
        "hasSecrets": True,
        "config": {**SMTP, "security": "starttls", "timeout_seconds": 20.0},
    }
    everything = await owner.result(LIST)
    assert "hunter2-smtp" not in json.dumps(everything)
    async with make_session_factory(db_engine)() as session:
        row = (await session.scalars(select(IntegrationCredential))).one()
    assert "hunter2-smtp" not in row.secrets_encrypted + json.dumps(row.config)
    assert SecretBox("test-secret-key").decrypt(row.secrets_encrypted) == {
        "password": "hunter2-smtp"
    }

    # Changing the settings without secrets keeps the stored password.
    moved = await owner(SET, kind="SMTP", config={**SMTP, "host": "mail.example.com"})
    assert moved["setIntegration"]["config"]["host"] == "mail.example.com"
    async with make_session_factory(db_engine)() as session:
        sealed = await session.scalar(select(IntegrationCredential.secrets_encrypted))
    assert SecretBox("test-secret-key").decrypt(sealed or "") == {"password": "hunter2-smtp"}

    gone = await owner("mutation { deleteIntegration(kind: SMTP) }")
    assert gone == {"deleteIntegration": True}
    assert (await owner(LIST))["integrations"] == []
    assert await owner("mutation { deleteIntegration(kind: SMTP) }") == {"deleteIntegration": False}


async def test_bad_settings_are_refused_with_every_problem(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    bad = await owner.error(
        SET, kind="TWILIO_SMS", config={"account_sid": "nope"}, secrets={"auth_token": ""}
    )
    assert bad["code"] == "BAD_USER_INPUT"
    fields = {problem["field"] for problem in bad["extensions"]["problems"]}
    assert fields == {"config.account_sid", "secrets.auth_token"}
    no_sender = await owner.error(
        SET, kind="TWILIO_SMS", config={"account_sid": "AC" + "0" * 32}, secrets={"auth_token": "t"}
    )
    assert "give from_number or messaging_service_sid" in no_sender["message"]
    wrong_address = await owner.error(SET, kind="SMTP", config={**SMTP, "from_address": "bot@"})
    assert "'bot@' is not an email address" in wrong_address["message"]
    stripe = await owner.error(SET, kind="STRIPE", config={}, secrets={"secret_key": "pk_x"})
    assert {p["field"] for p in stripe["extensions"]["problems"]} == {
        "secrets.secret_key",
        "secrets.webhook_secret",
    }
    assert (await owner(LIST))["integrations"] == []


async def test_only_managers_change_settings_and_each_organization_sees_its_own(
    api: httpx.AsyncClient,
) -> None:
    alice, _ = await sign_up(api, org="Alice")
    bob, _ = await sign_up(api, org="Bob")
    await alice(SET, kind="HUBSPOT", config={}, secrets={"access_token": "pat-alice"})
    assert (await bob(LIST))["integrations"] == []
    assert [i["kind"] for i in (await alice(LIST))["integrations"]] == ["HUBSPOT"]

    token = (
        await alice('mutation { inviteMember(email: "ag@example.com", role: "agent") { token } }')
    )["inviteMember"]["token"]
    accepted = await GraphQL(api)(
        'mutation($t: String!) { acceptInvitation(token: $t, password: "agent password") '
        "{ accessToken } }",
        t=token,
    )
    agent = GraphQL(api, accepted["acceptInvitation"]["accessToken"])
    refused = await agent.error(SET, kind="HUBSPOT", config={}, secrets={"access_token": "x"})
    assert refused["code"] == "FORBIDDEN"
    assert (await agent.error("mutation { deleteIntegration(kind: HUBSPOT) }"))["code"] == (
        "FORBIDDEN"
    )
