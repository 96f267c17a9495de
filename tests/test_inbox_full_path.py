"""The whole inbox path over real HTTP and a real websocket: sign up, build a bot from a seed
file, chat on the web channel, read the conversation, take it over, answer, release, and watch
it all live on subscriptions."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI

from flowlang.templates import default_templates
from models.settings import Settings
from tests.api_fixtures import CONNECT, CREATE_BOT, SET_DEFAULT
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, wait_for
from tests.live_server import live_server, subscribe

MESSAGES = """subscription($bot: ID!) { messages(botId: $bot) {
  id direction text status sentByUserId } }"""
CHANGES = """subscription($bot: ID!) { conversationUpdates(botId: $bot) {
  id status assignedUserId tags } }"""
DETAIL = """query($id: ID!) { conversation(id: $id) {
  id status workflowId temporalUrl contact { externalId } assignedUserId
  messages { items { direction text sentByUserId } nextCursor }
  flowRuns { status temporalUrl steps { sequence nodeId nodeType outcome } }
  position { nodeId waiting variables source } } }"""
ACTION = "mutation($id: ID!) { %s(id: $id) { status assignedUserId } }"


async def test_an_agent_takes_over_answers_and_releases_live(
    api: httpx.AsyncClient, test_settings: Settings
) -> None:
    async with live_server(test_settings) as (app, base_url):
        async with httpx.AsyncClient(base_url=base_url) as http:
            await full_path(app, http, base_url)


async def full_path(app: FastAPI, http: httpx.AsyncClient, base_url: str) -> None:
    owner, payload = await sign_up(http, org="Clinic")
    me = payload["member"]["user"]["id"]
    bot = (await owner(CREATE_BOT, name="Appointments"))["createBot"]["id"]
    web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
    seed = next(t for t in default_templates() if t.slug == "appointment-booking")
    seed_file = json.dumps({"version": "1.0.0", "flow": seed.definition.to_json()}).encode()
    imported = await http.post(
        f"/api/bots/{bot}/flows/import?publish=true",
        files={"file": ("booking.json", seed_file)},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert imported.status_code == 201, imported.text
    await owner(SET_DEFAULT, bot=bot, flow=imported.json()["flows"][0]["id"])

    live = app.state.platform.live_updates
    async with (
        subscribe(base_url, owner.token, MESSAGES, "messages", bot=bot) as messages,
        subscribe(base_url, owner.token, CHANGES, "conversationUpdates", bot=bot) as changes,
    ):
        await wait_for(lambda: _true(live.subscriber_count() == 2), what="both subscriptions")
        visitor = WebChat(http, web, "visitor-1")
        await visitor.say("hola")
        first_replies = await visitor.wait_replies(2)
        assert first_replies[1] == "¿Cuál es tu nombre completo?"

        conversation = await the_conversation(owner, bot)
        detail = (await owner(DETAIL, id=conversation))["conversation"]
        assert detail["status"] == "ACTIVE" and detail["contact"]["externalId"] == "visitor-1"
        assert detail["temporalUrl"].endswith(
            f"/namespaces/default/workflows/{detail['workflowId']}"
        )
        assert [m["text"] for m in detail["messages"]["items"]] == ["hola", *first_replies]
        run = detail["flowRuns"][0]
        assert run["status"] == "running" and "/workflows/" in run["temporalUrl"]
        assert [s["nodeId"] for s in run["steps"]][:1] == ["start"]
        assert detail["position"]["nodeId"] == "getName"
        assert detail["position"]["waiting"] is True and detail["position"]["source"] == "temporal"

        taken = await owner(ACTION % "takeOverConversation", id=conversation)
        assert taken["takeOverConversation"] == {"status": "HANDED_OFF", "assignedUserId": me}
        await visitor.say("¿hay alguien ahí?")
        sent = await owner(
            "mutation($id: ID!) { sendAgentMessage(conversationId: $id, "
            'text: "Hola, soy Ana. ¿En qué te ayudo?") { text sentByUserId } }',
            id=conversation,
        )
        assert sent["sendAgentMessage"]["sentByUserId"] == me
        assert (await visitor.wait_replies(3))[-1] == "Hola, soy Ana. ¿En qué te ayudo?"
        released = await owner(ACTION % "releaseConversation", id=conversation)
        assert released["releaseConversation"] == {"status": "ACTIVE", "assignedUserId": None}

        await visitor.say("Ana Pérez")  # the paused question gets its answer now
        assert "¿Qué servicio necesitas?" in (await visitor.wait_replies(4))[-1]
        assert len(await visitor.replies()) == 4  # the bot never answered the agent's chat

        seen = await messages.until(lambda m: (m["text"] or "").startswith("¿Qué servicio"))
        texts = [(m["direction"], m["text"], m["sentByUserId"]) for m in seen]
        assert ("inbound", "hola", None) in texts and ("inbound", "Ana Pérez", None) in texts
        assert ("outbound", "Hola, soy Ana. ¿En qué te ayudo?", me) in texts
        assert texts.index(("inbound", "¿hay alguien ahí?", None)) < texts.index(
            ("outbound", "Hola, soy Ana. ¿En qué te ayudo?", me)
        )
        handed_off = {"status": "HANDED_OFF", "assignedUserId": me}

        def released_again(change: dict) -> bool:
            return change["status"] == "ACTIVE" and handed_off in [
                {k: c[k] for k in handed_off} for c in changes.received
            ]

        statuses = [c["status"] for c in await changes.until(released_again)]
        assert statuses[0] == "ACTIVE" and "HANDED_OFF" in statuses


async def _true(value: bool) -> bool:
    return value


async def the_conversation(client: GraphQL, bot: str) -> str:
    async def found() -> str | None:
        page = (await client("query($b: ID) { conversations(botId: $b) { items { id } } }", b=bot))[
            "conversations"
        ]
        return page["items"][0]["id"] if page["items"] else None

    return await wait_for(found, what="the conversation")
