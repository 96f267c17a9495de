"""Anonymous endpoints are rate limited, weak passwords are refused, sign-up does not say who
has an account, logging out everywhere ends access tokens, and production hides its docs."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from models.settings import Settings
from tests.graphql_client import PASSWORD, GraphQL, sign_up
from tests.helpers import api_client, make_web_bot, node

SIGN_UP = """mutation($email: String!, $password: String!, $org: String!) {
  signUp(email: $email, password: $password, organizationName: $org) { accessToken } }"""
LOG_IN = """mutation($email: String!, $password: String!) {
  logIn(email: $email, password: $password) { accessToken refreshToken } }"""
ME = "{ me { user { email } } }"


async def test_sign_ups_and_log_ins_beyond_the_rate_answer_429(
    test_settings: Settings, clean_db: None
):
    settings = test_settings.model_copy(update={"auth_requests_per_minute": 3})
    async with api_client(settings, "203.0.113.9") as api:
        anonymous = GraphQL(api)
        for n in range(3):
            refused = await anonymous.error(
                SIGN_UP, email=f"x{n}@example.com", password="s", org="O"
            )
            assert refused["code"] == "BAD_USER_INPUT"
        response = await api.post(
            "/graphql",
            json={"query": LOG_IN, "variables": {"email": "x@example.com", "password": "p"}},
        )
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 20
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["message"].startswith("too many sign-ups and log-ins from your address")
    async with api_client(settings, "198.51.100.3") as other:
        assert await sign_up(other)  # another address is not slowed down


async def test_anonymous_web_messages_beyond_the_rate_answer_429(
    api: httpx.AsyncClient, test_settings: Settings, db_engine: AsyncEngine
):
    _bot, channel = await make_web_bot(db_engine, {"name": "f", "nodes": [node("hi", "end")]})
    settings = test_settings.model_copy(update={"web_messages_per_minute": 5})
    url = f"/channels/web/{channel}/messages"
    async with api_client(settings, "203.0.113.9") as flooder:
        for n in range(5):
            posted = await flooder.post(url, json={"contact_id": f"c{n}", "text": "hi"})
            assert posted.status_code == 202, posted.text
        refused = await flooder.post(url, json={"contact_id": "c9", "text": "hi"})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
    async with api_client(settings, "198.51.100.3") as visitor:
        posted = await visitor.post(url, json={"contact_id": "v", "text": "hi"})
        assert posted.status_code == 202


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", "most common"),
        ("password", "most common"),
        ("PassWord1", "most common"),
        (" " * 8, "only spaces"),
        ("short", "at least 8"),
    ],
)
async def test_weak_passwords_are_refused(api: httpx.AsyncClient, password: str, reason: str):
    refused = await GraphQL(api).error(
        SIGN_UP, email="weak@example.com", password=password, org="O"
    )
    assert refused["code"] == "BAD_USER_INPUT" and reason in refused["message"]


async def test_a_huge_email_is_refused_at_once_by_sign_up_and_log_in(api: httpx.AsyncClient):
    started = time.monotonic()
    email = "a@" + "." * 100_000 + "@"
    refused = await GraphQL(api).error(SIGN_UP, email=email, password=PASSWORD, org="O")
    assert refused["code"] == "BAD_USER_INPUT" and "at most 254 characters" in refused["message"]
    assert time.monotonic() - started < 2
    log_in = await GraphQL(api).error(LOG_IN, email=email, password=PASSWORD)
    assert (log_in["code"], log_in["message"]) == ("UNAUTHENTICATED", "wrong email or password")


async def test_sign_up_answers_an_existing_email_like_a_wrong_log_in(api: httpx.AsyncClient):
    owner, _ = await sign_up(api, org="First", email="kim@example.com")
    anonymous = GraphQL(api)
    taken = await anonymous.error(
        SIGN_UP, email="kim@example.com", password="a different password", org="Second"
    )
    wrong_log_in = await anonymous.error(
        LOG_IN, email="kim@example.com", password="a different password"
    )
    assert (taken["code"], taken["message"]) == (wrong_log_in["code"], wrong_log_in["message"])
    assert "exist" not in taken["message"]
    # the account's own password: the same answer as a new sign-up, a second organization
    await anonymous(SIGN_UP, email="kim@example.com", password=PASSWORD, org="Second")
    orgs = (await owner("{ myOrganizations { organization { name } } }"))["myOrganizations"]
    assert [o["organization"]["name"] for o in orgs] == ["First", "Second"]


async def test_log_out_everywhere_ends_every_access_token(api: httpx.AsyncClient):
    laptop, payload = await sign_up(api, email="lee@example.com")
    phone_tokens = (await GraphQL(api)(LOG_IN, email="lee@example.com", password=PASSWORD))["logIn"]
    phone = GraphQL(api, phone_tokens["accessToken"])
    assert (await phone(ME))["me"]["user"]["email"] == "lee@example.com"

    assert (await laptop("mutation { logOutEverywhere }"))["logOutEverywhere"] is True
    for client in (laptop, phone):
        refused = await client.error(ME)
        assert (
            refused["code"] == "UNAUTHENTICATED" and "logging out everywhere" in refused["message"]
        )
    refresh = await GraphQL(api).error(
        "mutation($t: String!) { refreshTokens(refreshToken: $t) { accessToken } }",
        t=payload["refreshToken"],
    )
    assert refresh["code"] == "UNAUTHENTICATED"
    again = (await GraphQL(api)(LOG_IN, email="lee@example.com", password=PASSWORD))["logIn"]
    assert (await GraphQL(api, again["accessToken"])(ME))["me"]["user"]["email"]


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_production_serves_no_api_docs_and_no_schema_hints(
    test_settings: Settings, clean_db: None, environment: str
):
    production = environment == "production"
    settings = test_settings.model_copy(update={"environment": environment})
    async with api_client(settings) as api:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await api.get(path)).status_code == (404 if production else 200)
        typo = await GraphQL(api).error("{ versoin }")
    assert typo["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert typo["message"].startswith("Cannot query field 'versoin' on type 'Query'.")
    assert ("Did you mean" in typo["message"]) is not production
