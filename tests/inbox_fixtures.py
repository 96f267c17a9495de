"""A team (owner and agent) with a web bot whose default flow asks a question, for inbox tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.api_fixtures import CONNECT, CREATE_BOT, CREATE_FLOW, PUBLISH, SET_DEFAULT, edge, message
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import wait_for

INVITE = """mutation($email: String!) {
  inviteMember(email: $email, role: "agent") { token } }"""
ACCEPT = """mutation($token: String!) {
  acceptInvitation(token: $token, password: "agent password") {
    accessToken member { user { id } } } }"""
CONVERSATION = """query($id: ID!) { conversation(id: $id) {
  id status tags assignedUserId closedAt
  notes { body authorUserId } flowRuns { status } } }"""
FIND = """query($contact: String) { conversations(contact: $contact) { items { id } } }"""


def asking_flow() -> dict[str, Any]:
    """Hi!, then asks the name and thanks by name."""
    ask = {
        "id": "ask",
        "type": "question",
        "position": {"x": 0, "y": 0},
        "data": {"content": "Your name?", "variable": "name"},
    }
    return {
        "nodes": [message("hi", "Hi!"), ask, message("thanks", "Thanks, {{name}}")],
        "edges": [edge("e1", "hi", "ask"), edge("e2", "ask", "thanks")],
        "variables": {},
    }


@dataclass
class Team:
    owner: GraphQL
    agent: GraphQL
    agent_id: str
    bot: str
    web: str
    flow: str


async def team_with_bot(api: httpx.AsyncClient, definition: dict[str, Any] | None = None) -> Team:
    owner, _ = await sign_up(api, org="Support team")
    token = (await owner(INVITE, email="agent@example.com"))["inviteMember"]["token"]
    joined = (await GraphQL(api)(ACCEPT, token=token))["acceptInvitation"]
    bot = (await owner(CREATE_BOT, name="Helper"))["createBot"]["id"]
    web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
    flow = (
        await owner(
            CREATE_FLOW, bot=bot, input={"name": "Ask", "definition": definition or asking_flow()}
        )
    )["createFlow"]["id"]
    await owner(PUBLISH, id=flow, message="v1")
    await owner(SET_DEFAULT, bot=bot, flow=flow)
    return Team(
        owner, GraphQL(api, joined["accessToken"]), joined["member"]["user"]["id"], bot, web, flow
    )


async def conversation_of(client: GraphQL, contact: str) -> str:
    """The id of the contact's conversation, once it exists."""

    async def found() -> str | None:
        items = (await client(FIND, contact=contact))["conversations"]["items"]
        return items[0]["id"] if items else None

    return await wait_for(found, what=f"{contact}'s conversation")
