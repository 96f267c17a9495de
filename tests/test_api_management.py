"""Managing bots, channels, flows and templates over GraphQL, as an organization's owner would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from models.bot_tables import Bot as BotRow
from models.bot_tables import Channel
from models.db import make_session_factory
from models.secret_box import SecretBox
from tests.api_fixtures import (
    CONNECT,
    CREATE_BOT,
    CREATE_FLOW,
    PUBLISH,
    SET_DEFAULT,
    UPDATE_DRAFT,
    VALIDATE,
    WHATSAPP_CHANNEL,
    edge,
    greeting_flow,
    live_web_bot,
    message,
)
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, wait_for

INVITE_AGENT = """mutation { inviteMember(email: "agent@example.com", role: "agent") { token } }"""
ACCEPT = """mutation($token: String!) {
  acceptInvitation(token: $token, password: "agent password") { accessToken } }"""


async def count(engine: AsyncEngine, table: type) -> int:
    async with make_session_factory(engine)() as session:
        return await session.scalar(select(func.count()).select_from(table)) or 0


async def test_bots_and_channels_with_write_only_secrets(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    bot = (await owner(CREATE_BOT, name="Support"))["createBot"]
    clash = await owner.error(CREATE_BOT, name="Support")
    assert clash["code"] == "BAD_USER_INPUT" and "already exists" in clash["message"]

    channel = (await owner(CONNECT, bot=bot["id"], input=WHATSAPP_CHANNEL))["connectChannel"]
    assert channel["kind"] == "WHATSAPP_CLOUD" and channel["hasSecrets"]
    assert channel["webhookUrls"] == [
        {
            "purpose": "webhook",
            "url": f"http://127.0.0.1:8000/channels/whatsapp/{channel['id']}/webhook",
        }
    ]
    assert "secret" not in str(channel["config"]) and "EAAG" not in str(channel)
    async with make_session_factory(db_engine)() as session:
        sealed = await session.scalar(select(Channel.secrets_encrypted))
    assert sealed is not None and "EAAG" not in sealed
    assert SecretBox("test-secret-key").decrypt(sealed)["access_token"] == "EAAG-secret"

    broken = {
        "kind": "TWILIO",
        "config": {"account_sid": "nope", "from_number": "12"},
        "secrets": {},
    }
    error = await owner.error(CONNECT, bot=bot["id"], input=broken)
    assert error["code"] == "BAD_USER_INPUT"
    fields = sorted(p["field"] for p in error["extensions"]["problems"])
    assert fields == ["config.account_sid", "config.from_number", "secrets.auth_token"]
    assert await count(db_engine, Channel) == 1  # nothing written

    twilio_config = {"account_sid": "AC" + "0" * 32, "from_number": "whatsapp:+15550001111"}
    twilio = {"kind": "TWILIO", "config": twilio_config, "secrets": {"auth_token": "tok"}}
    purposes = (await owner(CONNECT, bot=bot["id"], input=twilio))["connectChannel"]["webhookUrls"]
    assert [p["purpose"] for p in purposes] == ["webhook", "status_callback"]

    renamed = await owner(
        """mutation($id: ID!) { updateBot(id: $id, input: {description: "New"}) {
             description updatedAt } }""",
        id=bot["id"],
    )
    assert renamed["updateBot"]["description"] == "New"
    assert renamed["updateBot"]["updatedAt"] > bot["updatedAt"]
    marked = await owner(
        "mutation($id: ID!) { updateBot(id: $id, input: {sensitiveData: true}) { sensitiveData } }",
        id=bot["id"],
    )
    assert marked["updateBot"]["sensitiveData"] is True
    updated = await owner(
        """mutation($id: ID!) { updateChannel(id: $id, input: {name: "Renamed",
           secrets: {access_token: "new", app_secret: "s", verify_token: "v"}}) { name } }""",
        id=channel["id"],
    )
    assert updated["updateChannel"]["name"] == "Renamed"
    gone = await owner(
        "mutation($id: ID!) { disconnectChannel(id: $id) { isActive hasSecrets } }",
        id=channel["id"],
    )
    assert gone["disconnectChannel"] == {"isActive": False, "hasSecrets": False}

    token = (await owner(INVITE_AGENT))["inviteMember"]["token"]
    agent = GraphQL(
        api, (await GraphQL(api)(ACCEPT, token=token))["acceptInvitation"]["accessToken"]
    )
    assert [b["name"] for b in (await agent("{ bots { name } }"))["bots"]] == ["Support"]
    assert (await agent.error(CREATE_BOT, name="Mine"))["code"] == "FORBIDDEN"

    big_page = await owner.error("{ bots(first: 1000) { id } }")
    assert big_page["code"] == "BAD_USER_INPUT" and "between 1 and 100" in big_page["message"]

    await owner("mutation($id: ID!) { deleteBot(id: $id) }", id=bot["id"])
    assert (await owner("{ bots { id } }"))["bots"] == []
    assert await count(db_engine, Channel) == 0


async def test_flow_drafts_versions_diff_roll_back_and_duplicate(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    bot = (await owner(CREATE_BOT, name="Support"))["createBot"]
    broken = {
        "nodes": [message("hi", "Hi"), {"id": "x", "type": "teleport", "data": {}}],
        "edges": [edge("e1", "hi", "nowhere")],
    }
    flow = (
        await owner(
            CREATE_FLOW,
            bot=bot["id"],
            input={
                "name": "Welcome",
                "definition": broken,
                "trigger": {"type": "keyword", "keywords": ["hola"]},
            },
        )
    )["createFlow"]
    assert flow["trigger"] == {"type": "keyword", "keywords": ["hola"], "pattern": None}
    assert flow["definition"]["name"] == "Welcome" and flow["definition"]["keywords"] == ["hola"]

    problems = (await owner(VALIDATE, id=flow["id"]))["validateFlow"]
    assert {p["code"] for p in problems} >= {"unknown_node_type", "dangling_edge"}
    refused = await owner.error(PUBLISH, id=flow["id"], message="first try")
    assert refused["code"] == "BAD_USER_INPUT"
    assert {p["code"] for p in refused["extensions"]["problems"]} >= {"unknown_node_type"}
    assert (await owner("query($id: ID!) { flow(id: $id) { versions { id } } }", id=flow["id"]))[
        "flow"
    ]["versions"] == []

    await owner(UPDATE_DRAFT, id=flow["id"], input={"definition": greeting_flow("Hello!")})
    assert (await owner(VALIDATE, id=flow["id"]))["validateFlow"] == []
    v1 = (await owner(PUBLISH, id=flow["id"], message="first"))["publishFlow"]
    changed = greeting_flow("Hello again!")
    changed["nodes"].append(message("extra", "One more thing"))
    changed["edges"].append(edge("e2", "bye", "extra"))
    draft = await owner(UPDATE_DRAFT, id=flow["id"], input={"definition": changed})
    assert draft["updateFlowDraft"]["publishedVersionId"] == v1["id"]  # drafts do not publish
    v2 = (await owner(PUBLISH, id=flow["id"], message="second"))["publishFlow"]
    assert (v1["version"], v2["version"]) == (1, 2)

    diff = (
        await owner(
            """query($a: ID!, $b: ID!) { flowDiff(fromVersionId: $a, toVersionId: $b) {
             nodesAdded nodesRemoved nodesChanged { nodeId fields } edgesAdded edgesRemoved } }""",
            a=v1["id"],
            b=v2["id"],
        )
    )["flowDiff"]
    assert diff == {
        "nodesAdded": ["extra"],
        "nodesRemoved": [],
        "nodesChanged": [{"nodeId": "hi", "fields": ["data"]}],
        "edgesAdded": ["e2"],
        "edgesRemoved": [],
    }

    roll_back = """mutation($id: ID!, $v: ID!) {
      rollBackFlow(id: $id, versionId: $v) { version message definition createdAt } }"""
    v3 = (await owner(roll_back, id=flow["id"], v=v1["id"]))["rollBackFlow"]
    assert (v3["version"], v3["message"]) == (3, "Roll back to version 1")
    assert v3["definition"]["nodes"] == v1["definition"]["nodes"]
    versions = (
        await owner("query($id: ID!) { flow(id: $id) { versions { version } } }", id=flow["id"])
    )["flow"]["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]

    duplicate = "mutation($id: ID!) { duplicateFlow(id: $id) { id name definition createdAt } }"
    copy = (await owner(duplicate, id=flow["id"]))["duplicateFlow"]
    assert copy["name"] == "Welcome (copy)" and copy["definition"]["name"] == "Welcome (copy)"
    default = (await owner(SET_DEFAULT, bot=bot["id"], flow=flow["id"]))["setDefaultFlow"]
    assert default["defaultFlowId"] == flow["id"]
    cleared = (await owner(SET_DEFAULT, bot=bot["id"], flow=None))["setDefaultFlow"]
    assert cleared["defaultFlowId"] is None
    clash = await owner.error(UPDATE_DRAFT, id=copy["id"], input={"name": "Welcome"})
    assert clash["code"] == "BAD_USER_INPUT"


async def test_templates_start_flows_and_organizations_keep_their_own(
    api: httpx.AsyncClient,
) -> None:
    owner, _ = await sign_up(api, org="Acme")
    other, _ = await sign_up(api, org="Globex")
    built_in = await owner("{ templates { id category difficulty builtIn nodeCount } }")
    assert [t["id"] for t in built_in["templates"]] == [
        "customer-service-basic",
        "appointment-booking",
        "satisfaction-survey",
        "product-catalog",
        "ai-tech-support",
    ]
    booking = (await owner('{ templates(category: "booking") { id difficulty } }'))["templates"]
    assert booking == [{"id": "appointment-booking", "difficulty": "intermediate"}]
    beginners = (await owner('{ templates(difficulty: "beginner") { id } }'))["templates"]
    assert [t["id"] for t in beginners] == ["customer-service-basic", "satisfaction-survey"]

    bot = (await owner(CREATE_BOT, name="Shop"))["createBot"]
    flow = (
        await owner(
            """mutation($bot: ID!) { createFlowFromTemplate(botId: $bot,
             templateId: "satisfaction-survey",
             customizations: {name: "Survey", keywords: ["encuesta"]}) {
               id name trigger definition } }""",
            bot=bot["id"],
        )
    )["createFlowFromTemplate"]
    assert flow["name"] == "Survey"
    assert flow["trigger"] == {"type": "keyword", "keywords": ["encuesta"], "pattern": None}
    assert [n["id"] for n in flow["definition"]["nodes"]] == ["intro", "rating"]

    saved = await owner(
        """mutation($flow: ID!) { saveFlowAsTemplate(flowId: $flow, name: "Our survey",
             category: "survey") { id builtIn name } }""",
        flow=flow["id"],
    )
    template = saved["saveFlowAsTemplate"]
    assert template["builtIn"] is False
    mine = (await owner('{ templates(search: "our survey") { id name } }'))["templates"]
    assert mine == [{"id": template["id"], "name": "Our survey"}]
    assert (await other('{ templates(search: "our survey") { id } }'))["templates"] == []
    hidden = await other.error("query($id: ID!) { template(id: $id) { id } }", id=template["id"])
    assert hidden["code"] == "NOT_FOUND"
    bad = await owner.error(
        'mutation($flow: ID!) { saveFlowAsTemplate(flowId: $flow, category: "toys") { id } }',
        flow=flow["id"],
    )
    assert bad["code"] == "BAD_USER_INPUT"


async def test_a_flow_built_through_the_api_answers_on_the_web_channel(
    api: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    owner, _ = await sign_up(api)
    bot, web = await live_web_bot(owner, "Greeter", greeting_flow("Hi from the API"))
    assert web["webhookUrls"][0]["url"].endswith(f"/channels/web/{web['id']}/messages")

    chat = WebChat(api, web["id"], "visitor-1")
    await chat.say("hello")
    assert await chat.wait_replies(2) == ["Hi from the API", "Bye!"]

    running = f"BotId = '{bot['id']}' AND ExecutionStatus = 'Running'"

    async def conversations_running() -> int:
        return len([w async for w in temporal_env.client.list_workflows(running)])

    assert await wait_for(conversations_running, what="the conversation in Temporal") >= 1
    await owner("mutation($id: ID!) { deleteBot(id: $id) }", id=bot["id"])
    assert await wait_for(
        lambda: _none(conversations_running), what="the deleted bot's conversations to end"
    )


async def _none(count: Callable[[], Awaitable[int]]) -> bool:
    return await count() == 0


async def test_concurrent_creations_of_one_name_give_one_bot_and_clear_refusals(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    results = await asyncio.gather(*(owner.result(CREATE_BOT, name="Twin") for _ in range(6)))
    created = [r for r in results if not r.get("errors")]
    codes = {r["errors"][0]["extensions"]["code"] for r in results if r.get("errors")}
    assert len(created) == 1
    assert codes <= {"BAD_USER_INPUT", "CONFLICT"}, codes  # never an internal error
    assert await count(db_engine, BotRow) == 1
