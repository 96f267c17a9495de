"""The `crm` node end to end: web chat → Temporal → fake HubSpot / Pipedrive, the record id kept
on the contact so later syncs update instead of duplicating."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.nodes import get_node_type
from models.conversation_tables import Contact
from models.db import make_session_factory
from tests import fake_salesforce as sf
from tests.fake_crm import FakeHubSpot, FakePipedrive
from tests.helpers import make_web_bot, node
from tests.integration_fixtures import answer_first, asking_flow, configure

CREDENTIALS = {
    "hubspot": ({}, {"access_token": FakeHubSpot.token}),
    "pipedrive": ({}, {"api_token": FakePipedrive.token}),
    "salesforce": (
        {"username": sf.USERNAME},
        {"password": sf.PASSWORD, "security_token": sf.TOKEN},
    ),
}


@pytest.fixture
def salesforce(
    fake_salesforce: sf.FakeSalesforce, monkeypatch: pytest.MonkeyPatch
) -> sf.FakeSalesforce:
    """The fake Salesforce, emptied, its certificate trusted by `requests` for this test."""
    fake_salesforce.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_salesforce.certificate))
    return fake_salesforce


@pytest.fixture
def hubspot(fake_hubspot: FakeHubSpot) -> FakeHubSpot:
    fake_hubspot.reset()
    return fake_hubspot


@pytest.fixture
def pipedrive(fake_pipedrive: FakePipedrive) -> FakePipedrive:
    fake_pipedrive.reset()
    return fake_pipedrive


async def crm_bot(db_engine: AsyncEngine, provider: str, **data: object) -> str:
    """Asks for an email, syncs the contact to `provider`, then keeps talking."""
    sync = node("sync", "crm", provider=provider, email="{{email}}", retryAttempts=2, **data)
    flow = asking_flow(
        ("¿Tu correo?", "email"), sync, "Registrado ({{sync.record_id}}).", "Sin CRM"
    )
    bot, channel = await make_web_bot(db_engine, flow)
    await configure(db_engine, bot, provider, *CREDENTIALS[provider])
    return channel


async def crm_ids(db_engine: AsyncEngine, external_id: str) -> dict[str, str]:
    async with make_session_factory(db_engine)() as session:
        attributes = await session.scalar(
            select(Contact.attributes).where(Contact.external_id == external_id)
        )
    return (attributes or {}).get("crm_ids", {})


async def test_hubspot_creates_once_then_updates_the_same_record(
    api: httpx.AsyncClient, db_engine: AsyncEngine, hubspot: FakeHubSpot
) -> None:
    channel = await crm_bot(
        db_engine,
        "hubspot",
        fields={"firstname": "{{contact.external_id}}", "lifecyclestage": "lead"},
        deal={"name": "Pedido de {{email}}", "amount": "19.99", "stage": "appointmentscheduled"},
    )
    chat = await answer_first(api, channel, "ana", "ana@example.com")
    assert (await chat.wait_replies(3))[1:] == ["Registrado (101).", "¿Algo más?"]
    assert hubspot.records == {
        "101": {"email": "ana@example.com", "firstname": "ana", "lifecyclestage": "lead"}
    }
    [deal] = hubspot.deals
    assert deal["properties"] == {
        "dealname": "Pedido de ana@example.com",
        "amount": "19.99",
        "dealstage": "appointmentscheduled",
    }
    assert deal["associations"][0]["to"] == {"id": "101"}
    assert await crm_ids(db_engine, "ana") == {"hubspot": "101"}

    await chat.say("no")
    await chat.wait_replies(4)
    await chat.say("otra vez")  # a new run: the stored id is updated, even with a new address
    await chat.wait_replies(5)
    await chat.say("ana@work.example")
    assert (await chat.wait_replies(7))[5] == "Registrado (101)."
    assert list(hubspot.records) == ["101"] and len(hubspot.deals) == 2


async def test_an_existing_record_is_found_by_email_and_a_rate_limit_is_retried(
    api: httpx.AsyncClient, db_engine: AsyncEngine, hubspot: FakeHubSpot
) -> None:
    existing = hubspot.add(email="bea@example.com", firstname="Bea")
    hubspot.fail_next(429)
    channel = await crm_bot(db_engine, "hubspot", fields={"company": "Acme"})
    chat = await answer_first(api, channel, "bea", "bea@example.com")
    assert (await chat.wait_replies(3))[1] == f"Registrado ({existing})."
    assert hubspot.records == {
        existing: {"email": "bea@example.com", "firstname": "Bea", "company": "Acme"}
    }
    assert hubspot.failures == []


async def test_a_refusal_takes_the_error_edge_and_the_talk_goes_on(
    api: httpx.AsyncClient, db_engine: AsyncEngine, hubspot: FakeHubSpot
) -> None:
    hubspot.fail_next(400, 429)
    channel = await crm_bot(db_engine, "hubspot")
    chat = await answer_first(api, channel, "cris", "cris@example.com")
    assert (await chat.wait_replies(3))[1] == (
        "Sin CRM: the hubspot sync failed: HubSpot answered 400: Property values were not valid"
    )
    assert hubspot.failures == [429]  # not retried
    await chat.say("nada")
    assert (await chat.wait_replies(4))[-1] == "Gracias: nada"
    assert hubspot.records == {}


async def test_pipedrive_person_and_deal_after_a_rate_limit(
    api: httpx.AsyncClient, db_engine: AsyncEngine, pipedrive: FakePipedrive
) -> None:
    pipedrive.fail_next(429)
    channel = await crm_bot(
        db_engine,
        "pipedrive",
        fields={"name": "Dani"},
        deal={"name": "Web", "amount": 50, "currency": "eur"},
    )
    chat = await answer_first(api, channel, "dani", "dani@example.com")
    assert (await chat.wait_replies(3))[1] == "Registrado (101)."
    assert pipedrive.records == {"101": {"name": "Dani", "email": "dani@example.com"}}
    assert pipedrive.deals == [{"title": "Web", "person_id": 101, "value": 50.0, "currency": "EUR"}]
    assert await crm_ids(db_engine, "dani") == {"pipedrive": "101"}


async def test_a_missing_integration_fails_clearly(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    sync = node("sync", "crm", provider="pipedrive", email="{{email}}")
    flow = asking_flow(("¿Tu correo?", "email"), sync, "ok", "Sin CRM")
    _bot, channel = await make_web_bot(db_engine, flow)
    chat = await answer_first(api, channel, f"eva-{uuid.uuid4().hex[:6]}", "eva@example.com")
    assert (await chat.wait_replies(3))[1] == (
        "Sin CRM: the pipedrive sync failed: the organization has no pipedrive integration "
        "configured: set it with the setIntegration mutation"
    )


def test_bad_crm_settings_are_refused() -> None:
    crm = get_node_type("crm")
    assert crm.handles(crm.parse({"provider": "hubspot"})) == ["default", "error"]
    for bad in (
        {},
        {"provider": "zoho"},
        {"provider": "hubspot", "fields": {"a": "{{x"}},
        {"provider": "hubspot", "deal": {"amount": 5}},
        {"provider": "hubspot", "deal": {"name": "x", "currency": "euro"}},
    ):
        with pytest.raises(ValidationError):
            crm.parse(bad)


async def test_salesforce_logs_in_creates_a_contact_and_opportunity_and_later_updates_it(
    api: httpx.AsyncClient, db_engine: AsyncEngine, salesforce: sf.FakeSalesforce
) -> None:
    salesforce.fail_next(403)  # REQUEST_LIMIT_EXCEEDED
    channel = await crm_bot(
        db_engine,
        "salesforce",
        fields={"FirstName": "{{contact.external_id}}", "LastName": "Ruiz"},
        deal={"name": "Web {{email}}", "amount": "120"},
    )
    chat = await answer_first(api, channel, "flor", "flor@example.com")
    assert (await chat.wait_replies(3))[1].startswith("Registrado (003")
    [(contact_id, contact)] = salesforce.records["Contact"].items()
    assert contact == {"Email": "flor@example.com", "FirstName": "flor", "LastName": "Ruiz"}
    [(opportunity_id, opportunity)] = salesforce.records["Opportunity"].items()
    assert (opportunity["Name"], opportunity["Amount"], opportunity["StageName"]) == (
        "Web flor@example.com",
        120.0,
        "Prospecting",
    )
    [role] = salesforce.records["OpportunityContactRole"].values()
    assert (role["OpportunityId"], role["ContactId"]) == (opportunity_id, contact_id)
    assert await crm_ids(db_engine, "flor") == {"salesforce": contact_id}

    await chat.say("no")
    await chat.wait_replies(4)
    await chat.say("otra vez")
    await chat.wait_replies(5)
    await chat.say("flor@new.example")
    assert (await chat.wait_replies(7))[5] == f"Registrado ({contact_id})."
    assert list(salesforce.records["Contact"]) == [contact_id]


async def test_a_refused_salesforce_login_takes_the_error_edge(
    api: httpx.AsyncClient, db_engine: AsyncEngine, salesforce: sf.FakeSalesforce
) -> None:
    sync = node("sync", "crm", provider="salesforce", email="{{email}}")
    flow = asking_flow(("¿Tu correo?", "email"), sync, "ok", "Sin CRM")
    bot, channel = await make_web_bot(db_engine, flow)
    await configure(
        db_engine,
        bot,
        "salesforce",
        {"username": sf.USERNAME},
        {"password": "wrong", "security_token": sf.TOKEN},
    )
    chat = await answer_first(api, channel, "gus", "gus@example.com")
    assert (await chat.wait_replies(3))[1].startswith(
        "Sin CRM: the salesforce sync failed: Salesforce login refused: INVALID_LOGIN"
    )
    await chat.say("vale")
    assert (await chat.wait_replies(4))[-1] == "Gracias: vale"
    assert salesforce.records == {}
