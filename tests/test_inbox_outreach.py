"""Proactive starts: a flow started for contacts who have not written, paced, with progress and
the reason of every start that failed."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.outreach_tables import Outreach, OutreachContact
from tests.api_fixtures import CREATE_FLOW, greeting_flow
from tests.helpers import WebChat, wait_for
from tests.inbox_fixtures import team_with_bot

START = """mutation($f: ID!, $c: ID!, $contacts: [OutreachContactInput!]!, $rate: Int! = 10) {
  startFlow(flowId: $f, channelId: $c, contacts: $contacts, messagesPerSecond: $rate) {
    id status total pending started failed } }"""
PROGRESS = """query($id: ID!) { outreach(id: $id) {
  status total pending started failed failures { externalId reason }
  createdAt finishedAt temporalUrl } }"""


def contacts(*ids: str) -> list[dict[str, str]]:
    return [{"externalId": contact_id} for contact_id in ids]


@pytest.mark.record_history
async def test_a_flow_starts_for_contacts_paced_and_reports_who_could_not_start(
    api: httpx.AsyncClient,
) -> None:
    team = await team_with_bot(api)
    busy = WebChat(api, team.web, "busy")
    await busy.say("hola")  # now waits on the flow's question
    await busy.wait_replies(2)

    started = await team.owner(
        START, f=team.flow, c=team.web, rate=2, contacts=contacts("p1", "p2", "busy")
    )
    outreach = started["startFlow"]
    assert (outreach["status"], outreach["total"]) == ("running", 3)

    async def done() -> dict | None:
        progress = (await team.owner(PROGRESS, id=outreach["id"]))["outreach"]
        return progress if progress["status"] == "completed" else None

    progress = await wait_for(done, what="the outreach to complete")
    assert (progress["started"], progress["failed"], progress["pending"]) == (2, 1, 0)
    assert progress["failures"] == [
        {"externalId": "busy", "reason": "the contact is already in a flow"}
    ]
    assert "/workflows/outreach-" in progress["temporalUrl"]
    took = datetime.fromisoformat(progress["finishedAt"]) - datetime.fromisoformat(
        progress["createdAt"]
    )
    assert took.total_seconds() >= 1  # two per second: the third contact waited a second
    for contact in ("p1", "p2"):
        assert await WebChat(api, team.web, contact).wait_replies(2) == ["Hi!", "Your name?"]
    p1 = WebChat(api, team.web, "p1")
    await p1.say("Pia")  # the contact answers the flow that wrote first
    assert (await p1.wait_replies(3))[-1] == "Thanks, Pia"
    assert len(await busy.replies()) == 2  # the busy contact's flow was not interrupted

    listed = await team.owner(
        "query($b: ID!) { outreaches(botId: $b) { id status started failed } }", b=team.bot
    )
    assert listed["outreaches"] == [
        {"id": outreach["id"], "status": "completed", "started": 2, "failed": 1}
    ]


async def test_bad_starts_are_refused_and_write_nothing(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    team = await team_with_bot(api)
    owner = team.owner
    draft = (
        await owner(
            CREATE_FLOW, bot=team.bot, input={"name": "Draft", "definition": greeting_flow()}
        )
    )["createFlow"]["id"]
    cases = [
        ({"f": draft, "contacts": contacts("a")}, "publish the flow before starting it"),
        ({"contacts": []}, "give at least one contact"),
        ({"contacts": contacts("a", "a")}, "contacts[1]: 'a' is repeated"),
        ({"contacts": contacts("not valid!")}, "'not valid!' is not a web contact id"),
        ({"contacts": contacts("a"), "rate": 0}, "messagesPerSecond must be between 1 and 100"),
    ]
    for variables, reason in cases:
        error = await owner.error(START, **{"f": team.flow, "c": team.web, **variables})
        assert error["code"] == "BAD_USER_INPUT" and reason in error["message"], error
    async with make_session_factory(db_engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Outreach)) == 0
        assert await session.scalar(select(func.count()).select_from(OutreachContact)) == 0
