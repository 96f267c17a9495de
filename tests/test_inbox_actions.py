"""Agent actions, done by an agent through the conversation's workflow: each one is checked,
ordered with the contact's messages, and visible to the contact or the team."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from graphql_api.graph import conversations
from tests.helpers import WebChat, wait_for
from tests.inbox_fixtures import CONVERSATION, conversation_of, team_with_bot

TAKE_OVER = "mutation($id: ID!) { takeOverConversation(id: $id) { status assignedUserId } }"
SEND = """mutation($id: ID!, $text: String!) {
  sendAgentMessage(conversationId: $id, text: $text) { direction text sentByUserId } }"""
NOTE = """mutation($id: ID!, $body: String!) {
  addConversationNote(conversationId: $id, body: $body) { body authorUserId } }"""
TAGS = (
    "mutation($id: ID!, $tags: [String!]!) { setConversationTags(id: $id, tags: $tags) { tags } }"
)
RELEASE = """mutation($id: ID!, $mode: ReleaseMode!) {
  releaseConversation(id: $id, mode: $mode) { status assignedUserId } }"""
CLOSE = "mutation($id: ID!) { closeConversation(id: $id) { status closedAt } }"
START = """mutation($f: ID!, $c: ID!) {
  startFlow(flowId: $f, channelId: $c, contacts: [{externalId: "x"}]) { id } }"""


@pytest.mark.record_history
async def test_an_agent_takes_over_writes_notes_tags_releases_and_closes(
    api: httpx.AsyncClient,
) -> None:
    team = await team_with_bot(api)
    agent = team.agent
    visitor = WebChat(api, team.web, "maria")
    await visitor.say("hola")
    assert await visitor.wait_replies(2) == ["Hi!", "Your name?"]
    conversation = await conversation_of(agent, "maria")

    early = await agent.error(SEND, id=conversation, text="Hello")
    assert (early["code"], early["message"]) == (
        "ACTION_REFUSED",
        "take the conversation over before writing to the contact",
    )
    assert (await agent.error(RELEASE, id=conversation, mode="RESUME"))["code"] == "ACTION_REFUSED"
    empty = await agent.error(SEND, id=conversation, text="   ")
    assert (empty["code"], empty["message"]) == ("BAD_USER_INPUT", "the message is empty")

    taken = (await agent(TAKE_OVER, id=conversation))["takeOverConversation"]
    assert taken == {"status": "HANDED_OFF", "assignedUserId": team.agent_id}
    await visitor.say("is anyone there?")
    sent = (await agent(SEND, id=conversation, text="Hello, I am Sam"))["sendAgentMessage"]
    assert sent == {
        "direction": "outbound",
        "text": "Hello, I am Sam",
        "sentByUserId": team.agent_id,
    }
    assert await visitor.wait_replies(3) == ["Hi!", "Your name?", "Hello, I am Sam"]

    note = (await agent(NOTE, id=conversation, body="Wants a refund"))["addConversationNote"]
    assert note == {"body": "Wants a refund", "authorUserId": team.agent_id}
    tags = await agent(TAGS, id=conversation, tags=["vip", " vip ", "billing"])
    assert tags["setConversationTags"]["tags"] == ["vip", "billing"]
    too_many = await agent.error(TAGS, id=conversation, tags=[f"t{i}" for i in range(21)])
    assert too_many["code"] == "BAD_USER_INPUT"

    released = (await agent(RELEASE, id=conversation, mode="END"))["releaseConversation"]
    assert released == {"status": "ACTIVE", "assignedUserId": None}
    await wait_for(lambda: runs(agent, conversation, ["cancelled"]), what="the run to end")
    await visitor.say("hola otra vez")  # a new run: the ended one does not take the answer
    assert (await visitor.wait_replies(5))[3:] == ["Hi!", "Your name?"]
    assert len(await visitor.replies()) == 5  # nobody answered "is anyone there?"

    closed = (await agent(CLOSE, id=conversation))["closeConversation"]
    assert closed["status"] == "CLOSED" and closed["closedAt"]
    await wait_for(
        lambda: runs(agent, conversation, ["cancelled", "cancelled"]),
        what="the closed conversation's run to end",
    )
    await agent(NOTE, id=conversation, body="Closed: refund done")
    ended = await agent.error(SEND, id=conversation, text="Are you still there?")
    assert ended["code"] == "ACTION_REFUSED"
    detail = (await agent(CONVERSATION, id=conversation))["conversation"]
    assert [n["body"] for n in detail["notes"]] == ["Wants a refund", "Closed: refund done"]
    assert detail["tags"] == ["vip", "billing"] and detail["status"] == "CLOSED"

    await visitor.say("one more question")  # writing again reopens it
    assert (await visitor.wait_replies(7))[5:] == ["Hi!", "Your name?"]
    reopened = (await agent(CONVERSATION, id=conversation))["conversation"]
    assert reopened["status"] == "ACTIVE" and reopened["closedAt"] is None

    forbidden = await agent.error(START, f=team.flow, c=team.web)
    assert forbidden["code"] == "FORBIDDEN"


async def runs(client: Any, conversation: str, statuses: list[str]) -> bool:
    detail = (await client(CONVERSATION, id=conversation))["conversation"]
    return sorted(run["status"] for run in detail["flowRuns"] if run["status"] != "running") == (
        statuses
    )


async def test_taking_over_and_releasing_a_conversation_with_no_run(
    api: httpx.AsyncClient,
) -> None:
    greeting = {
        "nodes": [
            {
                "id": "hi",
                "type": "message",
                "position": {"x": 0, "y": 0},
                "data": {"content": "Hi!"},
            }
        ],
        "edges": [],
        "variables": {},
    }
    team = await team_with_bot(api, greeting)
    visitor = WebChat(api, team.web, "leo")
    await visitor.say("hello")
    await visitor.wait_replies(1)
    conversation = await conversation_of(team.owner, "leo")
    await wait_for(lambda: runs(team.owner, conversation, ["completed"]), what="the run")

    await team.owner(TAKE_OVER, id=conversation)
    await visitor.say("a person please")
    await team.owner(SEND, id=conversation, text="Here I am")
    assert await visitor.wait_replies(2) == ["Hi!", "Here I am"]
    released = await team.owner(RELEASE, id=conversation, mode="RESUME")
    assert released["releaseConversation"]["status"] == "ACTIVE"
    await visitor.say("thanks")
    assert await visitor.wait_replies(3) == ["Hi!", "Here I am", "Hi!"]


async def test_a_run_taken_over_between_nodes_pauses_until_released(
    api: httpx.AsyncClient,
) -> None:
    node = {"position": {"x": 0, "y": 0}}
    paced = {
        "nodes": [
            {**node, "id": "first", "type": "message", "data": {"content": "First"}},
            {**node, "id": "wait", "type": "delay", "data": {"delay": 1}},
            {**node, "id": "second", "type": "message", "data": {"content": "Second"}},
        ],
        "edges": [
            {"id": "e1", "source": "first", "target": "wait"},
            {"id": "e2", "source": "wait", "target": "second"},
        ],
        "variables": {},
    }
    team = await team_with_bot(api, paced)
    visitor = WebChat(api, team.web, "nora")
    await visitor.say("hi")
    await visitor.wait_replies(1)
    conversation = await conversation_of(team.owner, "nora")
    await team.owner(TAKE_OVER, id=conversation)  # during the delay
    await team.owner(SEND, id=conversation, text="An agent here")
    paused = """query($id: ID!) { conversation(id: $id) { position { nodeId source } } }"""

    async def stopped_after_the_delay() -> bool:
        detail = await team.owner(
            "query($id: ID!) { conversation(id: $id) { flowRuns { steps { nodeId } } } }",
            id=conversation,
        )
        return [s["nodeId"] for s in detail["conversation"]["flowRuns"][0]["steps"]] == [
            "first",
            "wait",
        ]

    await wait_for(stopped_after_the_delay, what="the delay to pass")
    position = (await team.owner(paused, id=conversation))["conversation"]["position"]
    assert position == {"nodeId": "wait", "source": "temporal"}
    assert await visitor.replies() == ["First", "An agent here"]  # "Second" waits for release
    await team.owner(RELEASE, id=conversation, mode="RESUME")
    assert await visitor.wait_replies(3) == ["First", "An agent here", "Second"]


async def test_a_flow_transfer_is_answered_and_released_by_an_agent(
    api: httpx.AsyncClient,
) -> None:
    node = {"position": {"x": 0, "y": 0}}
    transfer = {
        "nodes": [
            {
                **node,
                "id": "agent",
                "type": "transfer",
                "data": {"transferMessage": "Connecting you"},
            },
            {**node, "id": "back", "type": "message", "data": {"content": "Back with the bot"}},
        ],
        "edges": [{"id": "e1", "source": "agent", "target": "back"}],
        "variables": {},
    }
    team = await team_with_bot(api, transfer)
    visitor = WebChat(api, team.web, "olga")
    await visitor.say("help")
    assert await visitor.wait_replies(1) == ["Connecting you"]
    conversation = await conversation_of(team.agent, "olga")

    async def handed_off() -> bool:
        detail = (await team.agent(CONVERSATION, id=conversation))["conversation"]
        return detail["status"] == "HANDED_OFF" and detail["assignedUserId"] is None

    await wait_for(handed_off, what="the flow's transfer")
    taken = (await team.agent(TAKE_OVER, id=conversation))["takeOverConversation"]
    assert taken == {"status": "HANDED_OFF", "assignedUserId": team.agent_id}
    await team.agent(SEND, id=conversation, text="How can I help?")
    await team.agent(RELEASE, id=conversation, mode="RESUME")
    assert await visitor.wait_replies(3) == [
        "Connecting you",
        "How can I help?",
        "Back with the bot",
    ]


async def test_an_update_the_server_aborts_is_asked_again_and_done_once(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server aborts an in-flight update when its run closes, continues as new or loses its
    workflow task; the agent sees the action done (once), not "engine unreachable"."""
    team = await team_with_bot(api)
    visitor = WebChat(api, team.web, "ines")
    await visitor.say("hola")
    assert await visitor.wait_replies(2) == ["Hi!", "Your name?"]
    conversation = await conversation_of(team.agent, "ines")
    await team.agent(TAKE_OVER, id=conversation)

    real = conversations._update
    aborted = [RPCStatusCode.ABORTED, RPCStatusCode.RESOURCE_EXHAUSTED]

    async def flaky(*args: Any) -> str | None:
        if aborted:
            raise RPCError("workflow update was aborted", aborted.pop(0), b"")
        return await real(*args)

    monkeypatch.setattr(conversations, "_update", flaky)
    sent = (await team.agent(SEND, id=conversation, text="Still here"))["sendAgentMessage"]
    assert sent["text"] == "Still here" and not aborted
    assert (await visitor.wait_replies(3))[2:] == ["Still here"]
    assert len(await visitor.replies()) == 3

    aborted = [RPCStatusCode.UNAVAILABLE] * 10  # the engine stays away: a clear error
    refused = await team.agent.error(NOTE, id=conversation, body="lost?")
    assert (refused["code"], refused["message"]) == (
        "SERVICE_UNAVAILABLE",
        "the conversation engine is unreachable; try again",
    )
    monkeypatch.setattr(conversations, "_update", real)
    detail = (await team.agent(CONVERSATION, id=conversation))["conversation"]
    assert detail["notes"] == []
