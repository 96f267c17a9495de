"""Listing conversations: every filter, and cursor pages that neither skip nor repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api_fixtures import CONNECT, CREATE_BOT
from tests.helpers import WebChat, wait_for
from tests.inbox_fixtures import conversation_of, team_with_bot

LIST = """query($bot: ID, $channel: ID, $status: ConversationStatus, $contact: String,
               $text: String, $since: DateTime, $until: DateTime, $first: Int!, $after: String) {
  conversations(botId: $bot, channelId: $channel, status: $status, contact: $contact,
                text: $text, since: $since, until: $until, first: $first, after: $after) {
    items { id contact { externalId } lastMessageAt } nextCursor } }"""


async def test_filters_and_cursor_pages(api: httpx.AsyncClient) -> None:
    team = await team_with_bot(api)
    owner = team.owner
    started = datetime.now(UTC).isoformat()
    for contact, text in (
        ("ana", "I want pizza"),
        ("bruno", "hello"),
        ("carla", "PIZZA please"),
        ("dario", "hi"),
    ):
        await WebChat(api, team.web, contact).say(text)
        await conversation_of(owner, contact)
    other_bot = (await owner(CREATE_BOT, name="Other"))["createBot"]["id"]
    other_web = (await owner(CONNECT, bot=other_bot, input={"kind": "WEB"}))["connectChannel"]
    await WebChat(api, other_web["id"], "eva").say("pizza too")
    await conversation_of(owner, "eva")

    async def contacts(**variables: object) -> list[str]:
        page = (await owner(LIST, first=50, **variables))["conversations"]
        return sorted(item["contact"]["externalId"] for item in page["items"])

    assert await contacts() == ["ana", "bruno", "carla", "dario", "eva"]
    assert await contacts(bot=team.bot) == ["ana", "bruno", "carla", "dario"]
    assert await contacts(channel=other_web["id"]) == ["eva"]
    assert await contacts(text="pizza") == ["ana", "carla", "eva"]
    assert await contacts(text="pizza", bot=team.bot, contact="CAR") == ["carla"]
    assert await contacts(text="100%") == []  # wildcards are plain characters
    assert await contacts(since=started) == ["ana", "bruno", "carla", "dario", "eva"]
    assert await contacts(until=started) == []

    dario = await conversation_of(owner, "dario")
    await owner("mutation($id: ID!) { closeConversation(id: $id) { id } }", id=dario)
    assert await contacts(status="CLOSED") == ["dario"]

    seen: list[dict] = []
    cursor = None
    while True:
        page = (await owner(LIST, bot=team.bot, first=3, after=cursor))["conversations"]
        seen += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and len({item["id"] for item in seen}) == 4
    order = [(item["lastMessageAt"], item["id"]) for item in seen]
    assert order == sorted(order, reverse=True)  # newest activity first, ties by id

    bad = await owner.error(LIST, first=10, after="not-a-cursor")
    assert bad["code"] == "BAD_USER_INPUT"
    assert bad["message"] == "`after` is not a cursor this API returned"
    assert (await owner.error(LIST, first=500))["code"] == "BAD_USER_INPUT"
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    backwards = await owner.error(LIST, first=10, since=later, until=started)
    assert backwards["code"] == "BAD_USER_INPUT"


async def test_a_conversation_shows_messages_by_page_and_its_run_steps(
    api: httpx.AsyncClient,
) -> None:
    team = await team_with_bot(api)
    visitor = WebChat(api, team.web, "fede")
    await visitor.say("hola")
    await visitor.wait_replies(2)
    await visitor.say("Fede")
    await visitor.wait_replies(3)
    conversation = await conversation_of(team.owner, "fede")
    query = """query($id: ID!, $after: String) { conversation(id: $id) {
      messages(first: 2, after: $after) { items { direction text } nextCursor }
      flowRuns { status variables steps { sequence nodeId outcome durationMs } }
      position { nodeId } } }"""

    async def finished() -> dict | None:
        detail = (await team.owner(query, id=conversation))["conversation"]
        return detail if detail["flowRuns"][0]["status"] == "completed" else None

    detail = await wait_for(finished, what="the run to complete")
    first = detail["messages"]
    assert [m["text"] for m in first["items"]] == ["hola", "Hi!"]
    rest = (await team.owner(query, id=conversation, after=first["nextCursor"]))["conversation"]
    assert [m["text"] for m in rest["messages"]["items"]] == ["Your name?", "Fede"]
    last = await team.owner(query, id=conversation, after=rest["messages"]["nextCursor"])
    assert [m["text"] for m in last["conversation"]["messages"]["items"]] == ["Thanks, Fede"]
    assert last["conversation"]["messages"]["nextCursor"] is None
    run = detail["flowRuns"][0]
    assert [(s["sequence"], s["nodeId"]) for s in run["steps"]] == [
        (1, "hi"),
        (2, "ask"),
        (3, "thanks"),
    ]
    assert run["variables"]["name"] == "Fede" and detail["position"] is None
