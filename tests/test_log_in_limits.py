"""Password guessing is bounded however it is sent: concurrent bursts, many addresses, or
through `acceptInvitation`; and a stranger cannot lock someone else out from one address."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from models.settings import Settings
from tests.graphql_client import PASSWORD, GraphQL, sign_up
from tests.helpers import api_client

LOG_IN = """mutation($email: String!, $password: String!) {
  logIn(email: $email, password: $password) { accessToken } }"""
INVITE = """mutation($email: String!) {
  inviteMember(email: $email, role: "agent") { token } }"""
ACCEPT = """mutation($token: String!, $password: String!) {
  acceptInvitation(token: $token, password: $password) { accessToken member { role } } }"""
VICTIM = "victim@example.com"


@pytest.fixture
def settings(test_settings: Settings) -> Settings:
    """The test settings without the per-address request rate (tested on its own)."""
    return test_settings.model_copy(update={"auth_requests_per_minute": 0})


async def burst(client: GraphQL, query: str, passwords: list[str], **variables: str) -> Counter:
    """Send one request per password at once; how many got each outcome (`ok` or a code)."""
    results = await asyncio.gather(
        *(client.result(query, password=password, **variables) for password in passwords)
    )
    return Counter(
        body["errors"][0]["extensions"]["code"] if body.get("errors") else "ok" for body in results
    )


async def test_a_concurrent_burst_checks_at_most_five_passwords(settings: Settings, clean_db: None):
    async with api_client(settings, "203.0.113.7") as attacker_api:
        await sign_up(attacker_api, email=VICTIM)
        attacker = GraphQL(attacker_api)
        wrong = [f"guess {n}" for n in range(40)]
        assert await burst(attacker, LOG_IN, wrong, email=VICTIM) == Counter(
            {"UNAUTHENTICATED": 5, "TOO_MANY_ATTEMPTS": 35}
        )
        # once the limit is reached, the right password hidden in a burst does not get in
        outcome = await burst(attacker, LOG_IN, [*wrong[:19], PASSWORD], email=VICTIM)
        assert outcome == Counter({"TOO_MANY_ATTEMPTS": 20})
        response = await attacker_api.post(
            "/graphql", json={"query": LOG_IN, "variables": {"email": VICTIM, "password": PASSWORD}}
        )
        assert response.status_code == 429
        assert 800 < int(response.headers["Retry-After"]) <= 900
        assert 800 < response.json()["errors"][0]["extensions"]["retryAfter"] <= 900

    async with api_client(settings, "198.51.100.20") as victim_api:  # not locked out
        assert (await GraphQL(victim_api)(LOG_IN, email=VICTIM, password=PASSWORD))["logIn"]


async def test_guesses_spread_over_many_addresses_lock_the_email_for_everyone(
    settings: Settings, clean_db: None
):
    async with api_client(settings, "198.51.100.20") as victim_api:
        await sign_up(victim_api, email=VICTIM)

    async def five_guesses(address: str) -> Counter:
        async with api_client(settings, address) as api:
            return await burst(GraphQL(api), LOG_IN, ["a", "b", "c", "d", "e"], email=VICTIM)

    outcomes = await asyncio.gather(*(five_guesses(f"203.0.113.{n}") for n in range(10)))
    assert sum(outcomes, Counter()) == Counter({"UNAUTHENTICATED": 50})
    async with api_client(settings, "198.51.100.20") as victim_api:
        locked = await GraphQL(victim_api).error(LOG_IN, email=VICTIM, password=PASSWORD)
    assert locked["code"] == "TOO_MANY_ATTEMPTS"


async def test_accept_invitation_shares_the_log_in_limits(settings: Settings, clean_db: None):
    async with api_client(settings, "203.0.113.7") as api:
        await sign_up(api, email=VICTIM)
        attacker, _ = await sign_up(api, org="Attacker's own")
        token = (await attacker(INVITE, email=VICTIM))["inviteMember"]["token"]
        anonymous = GraphQL(api)
        assert await burst(anonymous, LOG_IN, ["a", "b", "c"], email=VICTIM) == Counter(
            {"UNAUTHENTICATED": 3}
        )
        assert await burst(anonymous, ACCEPT, ["d", "e"], token=token) == Counter(
            {"UNAUTHENTICATED": 2}
        )
        # the email is locked now: the invitation refuses even the right password
        refused = await anonymous.error(ACCEPT, token=token, password=PASSWORD)
        assert refused["code"] == "TOO_MANY_ATTEMPTS"
        assert await burst(anonymous, ACCEPT, ["f"] * 10, token=token) == Counter(
            {"TOO_MANY_ATTEMPTS": 10}
        )

    async with api_client(settings, "198.51.100.20") as victim_api:
        joined = await GraphQL(victim_api)(ACCEPT, token=token, password=PASSWORD)
    assert joined["acceptInvitation"]["member"]["role"] == "agent"
