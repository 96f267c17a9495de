"""GraphQL operations and data shared by the API tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.graphql_client import GraphQL

CREATE_BOT = """mutation($name: String!) {
  createBot(input: {name: $name, description: "Support bot"}) {
    id name description createdAt updatedAt } }"""
CONNECT = """mutation($bot: ID!, $input: ChannelInput!) {
  connectChannel(botId: $bot, input: $input) {
    id kind name config isActive hasSecrets createdAt webhookUrls { purpose url } } }"""
CREATE_FLOW = """mutation($bot: ID!, $input: FlowInput!) {
  createFlow(botId: $bot, input: $input) {
    id name trigger definition publishedVersionId createdAt updatedAt } }"""
UPDATE_DRAFT = """mutation($id: ID!, $input: FlowDraftUpdate!) {
  updateFlowDraft(id: $id, input: $input) {
    id name definition publishedVersionId updatedAt } }"""
PUBLISH = """mutation($id: ID!, $message: String!) {
  publishFlow(id: $id, message: $message) { id version message definition createdAt } }"""
VALIDATE = "query($id: ID!) { validateFlow(id: $id) { code message nodeId edgeId } }"
SET_DEFAULT = """mutation($bot: ID!, $flow: ID) {
  setDefaultFlow(botId: $bot, flowId: $flow) { id defaultFlowId updatedAt } }"""

WHATSAPP_CHANNEL = {
    "kind": "WHATSAPP_CLOUD",
    "name": "Main number",
    "config": {"phone_number_id": "1234567890", "business_account_id": "987"},
    "secrets": {
        "access_token": "EAAG-secret",
        "app_secret": "app-secret",
        "verify_token": "verify-me",
    },
}


def message(node_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "message",
        "position": {"x": 0, "y": 0},
        "data": {"content": text},
        **extra,
    }


def edge(edge_id: str, source: str, target: str) -> dict[str, Any]:
    return {"id": edge_id, "source": source, "target": target}


def greeting_flow(text: str = "Hello!") -> dict[str, Any]:
    """A valid two-message flow."""
    return {
        "nodes": [message("hi", text), message("bye", "Bye!")],
        "edges": [edge("e1", "hi", "bye")],
        "variables": {},
    }


async def live_web_bot(
    owner: GraphQL, name: str, definition: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bot built through the API: a web channel and `definition` published as its default
    flow. Returns (bot, web channel) as the API answered them."""
    bot = (await owner(CREATE_BOT, name=name))["createBot"]
    web = (await owner(CONNECT, bot=bot["id"], input={"kind": "WEB"}))["connectChannel"]
    flow_input = {"name": name, "definition": definition, "trigger": {"type": "default"}}
    flow = (await owner(CREATE_FLOW, bot=bot["id"], input=flow_input))["createFlow"]
    await owner(PUBLISH, id=flow["id"], message="go live")
    await owner(SET_DEFAULT, bot=bot["id"], flow=flow["id"])
    return bot, web
