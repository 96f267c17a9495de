"""Two organizations: neither can read or change the other's objects through any id.

A foreign id must answer exactly like an id that does not exist (same code, same message), so
an attacker learns nothing. Every query and mutation taking an ID is listed here; a new one
makes `test_every_operation_taking_an_id_is_covered` fail until it is added.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from graphql import GraphQLNonNull, get_named_type
from graphql import build_schema as parse_sdl

from graphql_api.schema import schema
from tests.api_fixtures import CONNECT, CREATE_BOT, CREATE_FLOW, PUBLISH, WHATSAPP_CHANNEL
from tests.api_fixtures import greeting_flow as flow_definition
from tests.graphql_client import GraphQL, sign_up
from tests.helpers import WebChat, wait_for
from tests.marketplace_fixtures import CREATE_LISTING, listing_input

MISSING = str(uuid.uuid4())

# field -> (operation, the variables naming the other organization's objects)
OPERATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "bot": ("query($id: ID!) { bot(id: $id) { id } }", {"id": "bot"}),
    "channel": ("query($id: ID!) { channel(id: $id) { id } }", {"id": "channel"}),
    "flow": ("query($id: ID!) { flow(id: $id) { id } }", {"id": "flow"}),
    "flowVersion": ("query($id: ID!) { flowVersion(id: $id) { id } }", {"id": "version"}),
    "validateFlow": ("query($id: ID!) { validateFlow(id: $id) { code } }", {"id": "flow"}),
    "flowDiff": (
        "query($a: ID!, $b: ID!) { flowDiff(fromVersionId: $a, toVersionId: $b) { nodesAdded } }",
        {"a": "version", "b": "version"},
    ),
    "template": ("query($id: ID!) { template(id: $id) { id } }", {"id": "template"}),
    "updateBot": (
        'mutation($id: ID!) { updateBot(id: $id, input: {name: "Mine"}) { id } }',
        {"id": "bot"},
    ),
    "deleteBot": ("mutation($id: ID!) { deleteBot(id: $id) }", {"id": "bot"}),
    "connectChannel": (
        "mutation($id: ID!) { connectChannel(botId: $id, input: {kind: WEB}) { id } }",
        {"id": "bot"},
    ),
    "updateChannel": (
        'mutation($id: ID!) { updateChannel(id: $id, input: {name: "x"}) { id } }',
        {"id": "channel"},
    ),
    "disconnectChannel": (
        "mutation($id: ID!) { disconnectChannel(id: $id) { id } }",
        {"id": "channel"},
    ),
    "createFlow": (
        'mutation($id: ID!) { createFlow(botId: $id, input: {name: "x"}) { id } }',
        {"id": "bot"},
    ),
    "updateFlowDraft": (
        'mutation($id: ID!) { updateFlowDraft(id: $id, input: {name: "x"}) { id } }',
        {"id": "flow"},
    ),
    "publishFlow": ("mutation($id: ID!) { publishFlow(id: $id) { id } }", {"id": "flow"}),
    "rollBackFlow": (
        "mutation($id: ID!, $v: ID!) { rollBackFlow(id: $id, versionId: $v) { id } }",
        {"id": "flow", "v": "version"},
    ),
    "setDefaultFlow": (
        "mutation($b: ID!, $f: ID) { setDefaultFlow(botId: $b, flowId: $f) { id } }",
        {"b": "bot", "f": "flow"},
    ),
    "duplicateFlow": ("mutation($id: ID!) { duplicateFlow(id: $id) { id } }", {"id": "flow"}),
    "deleteFlow": ("mutation($id: ID!) { deleteFlow(id: $id) }", {"id": "flow"}),
    "createFlowFromTemplate": (
        "mutation($b: ID!, $t: ID!) { createFlowFromTemplate(botId: $b, templateId: $t) { id } }",
        {"b": "bot", "t": "template"},
    ),
    "saveFlowAsTemplate": (
        "mutation($id: ID!) { saveFlowAsTemplate(flowId: $id) { id } }",
        {"id": "flow"},
    ),
    "deleteTemplate": ("mutation($id: ID!) { deleteTemplate(id: $id) }", {"id": "template"}),
    "revokeApiKey": ("mutation($id: ID!) { revokeApiKey(id: $id) { id } }", {"id": "api_key"}),
    "setMemberRole": (
        'mutation($id: ID!) { setMemberRole(userId: $id, role: "agent") { role } }',
        {"id": "user"},
    ),
    "removeMember": ("mutation($id: ID!) { removeMember(userId: $id) }", {"id": "user"}),
    "conversations": (
        "query($b: ID, $c: ID) { conversations(botId: $b, channelId: $c) { nextCursor } }",
        {"b": "bot", "c": "web_channel"},
    ),
    "conversation": ("query($id: ID!) { conversation(id: $id) { id } }", {"id": "conversation"}),
    "takeOverConversation": (
        "mutation($id: ID!) { takeOverConversation(id: $id) { id } }",
        {"id": "conversation"},
    ),
    "sendAgentMessage": (
        'mutation($id: ID!) { sendAgentMessage(conversationId: $id, text: "hi") { id } }',
        {"id": "conversation"},
    ),
    "addConversationNote": (
        'mutation($id: ID!) { addConversationNote(conversationId: $id, body: "n") { id } }',
        {"id": "conversation"},
    ),
    "setConversationTags": (
        'mutation($id: ID!) { setConversationTags(id: $id, tags: ["x"]) { id } }',
        {"id": "conversation"},
    ),
    "releaseConversation": (
        "mutation($id: ID!) { releaseConversation(id: $id) { id } }",
        {"id": "conversation"},
    ),
    "closeConversation": (
        "mutation($id: ID!) { closeConversation(id: $id) { id } }",
        {"id": "conversation"},
    ),
    "startFlow": (
        "mutation($f: ID!, $c: ID!) { startFlow(flowId: $f, channelId: $c, "
        'contacts: [{externalId: "z"}]) { id } }',
        {"f": "flow", "c": "web_channel"},
    ),
    "outreach": ("query($id: ID!) { outreach(id: $id) { id } }", {"id": "outreach"}),
    "outreaches": ("query($b: ID!) { outreaches(botId: $b) { id } }", {"b": "bot"}),
    "payments": ("query($b: ID!) { payments(botId: $b) { id } }", {"b": "bot"}),
    "webhookEndpoints": ("query($b: ID) { webhookEndpoints(botId: $b) { id } }", {"b": "bot"}),
    "webhookEndpoint": (
        "query($id: ID!) { webhookEndpoint(id: $id) { id } }",
        {"id": "webhook_endpoint"},
    ),
    "rotateFlowTriggerSecret": (
        "mutation($f: ID!) { rotateFlowTriggerSecret(flowId: $f) { secret } }",
        {"f": "flow"},
    ),
    "deleteFlowTriggerSecret": (
        "mutation($f: ID!) { deleteFlowTriggerSecret(flowId: $f) }",
        {"f": "flow"},
    ),
    "flowTriggerSecretCreatedAt": (
        "query($f: ID!) { flowTriggerSecretCreatedAt(flowId: $f) }",
        {"f": "flow"},
    ),
    "webhookDeliveries": (
        "query($id: ID!) { webhookDeliveries(endpointId: $id) { id } }",
        {"id": "webhook_endpoint"},
    ),
    "createWebhookEndpoint": (
        "mutation($b: ID) { createWebhookEndpoint(botId: $b, input: "
        '{url: "http://127.0.0.1:9/x", events: ["*"]}) { secret } }',
        {"b": "bot"},
    ),
    "updateWebhookEndpoint": (
        'mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {description: "x"}) { id } }',
        {"id": "webhook_endpoint"},
    ),
    "deleteWebhookEndpoint": (
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        {"id": "webhook_endpoint"},
    ),
    "rotateWebhookSecret": (
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        {"id": "webhook_endpoint"},
    ),
    "redeliverWebhook": (
        "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
        {"id": "webhook_delivery"},
    ),
    "redeliverFailedWebhooks": (
        "mutation($id: ID!) { redeliverFailedWebhooks(endpointId: $id, "
        'since: "2020-01-01T00:00:00Z") }',
        {"id": "webhook_endpoint"},
    ),
    "sendTestWebhook": (
        "mutation($id: ID!) { sendTestWebhook(endpointId: $id) { id } }",
        {"id": "webhook_endpoint"},
    ),
    "analyticsDashboard": (
        'query($b: ID) { analyticsDashboard(botId: $b, from: "2026-01-01", '
        'to: "2026-01-31") { activeConversationsNow } }',
        {"b": "bot"},
    ),
    "flowAnalytics": (
        'query($f: ID!) { flowAnalytics(flowId: $f, from: "2026-01-01", '
        'to: "2026-01-31") { runs } }',
        {"f": "flow"},
    ),
    "analyticsSatisfaction": (
        "query($b: ID) { analyticsSatisfaction(botId: $b, "
        'from: "2026-01-01", to: "2026-01-31") { responses } }',
        {"b": "bot"},
    ),
    "analyticsRealTime": (
        "query($b: ID) { analyticsRealTime(botId: $b) { messagesLastHour } }",
        {"b": "bot"},
    ),
    "marketplaceListing": (
        "query($id: ID!) { marketplaceListing(id: $id) { id } }",
        {"id": "listing"},
    ),
    "listingReviews": (
        "query($id: ID!) { listingReviews(listingId: $id) { id } }",
        {"id": "listing"},
    ),
    "addListingVersion": (
        "mutation($id: ID!) { addListingVersion(listingId: $id, "
        'version: "9.0.0", content: {}) { id } }',
        {"id": "listing"},
    ),
    "updateListing": (
        'mutation($id: ID!) { updateListing(id: $id, input: {title: "x"}) { id } }',
        {"id": "listing"},
    ),
    "submitListing": ("mutation($id: ID!) { submitListing(id: $id) { id } }", {"id": "listing"}),
    "buyListing": ("mutation($id: ID!) { buyListing(listingId: $id) { id } }", {"id": "listing"}),
    "installListing": (
        "mutation($l: ID!, $b: ID) { installListing(listingId: $l, botId: $b) { id } }",
        {"l": "listing", "b": "bot"},
    ),
    "updateInstalledListing": (
        "mutation($id: ID!) { updateInstalledListing(listingId: $id) { id } }",
        {"id": "listing"},
    ),
    "requestRefund": (
        'mutation($id: ID!) { requestRefund(listingId: $id, reason: "r") { id } }',
        {"id": "listing"},
    ),
    "reviewListing": (
        "mutation($id: ID!) { reviewListing(listingId: $id, rating: 5) { id } }",
        {"id": "listing"},
    ),
}
ANALYTICS_NOW = "query($b: ID) { analyticsRealTime(botId: $b) { messagesLastHour } }"
SET_SMTP = """mutation($host: String!) { setIntegration(kind: SMTP, config: {host: $host,
  from_address: "bot@example.com"}, secrets: {password: "p"}) { kind } }"""
# Operations whose ids name no organization's object (an organization the caller picks), act
# across organizations for platform admins only (the marketplace's review and refunds), or
# name reviews, which are public with the approved listings they are about.
NOT_ORGANIZATION_SCOPED = {
    "logIn",
    "approveListing",
    "rejectListing",
    "suspendListing",
    "setListingFeatured",
    "refundPurchase",
    "voteReview",
}

HTTP_ROUTES = [
    ("GET", "/api/flows/{flow}/export", None),
    ("GET", "/api/bots/{bot}/export", None),
    ("POST", "/api/flows/export", {"flow_ids": ["{flow}"]}),
    ("POST", "/api/bots/{bot}/flows/import", "file"),
    ("GET", "/api/bots/{bot}/analytics/report.html?from=2026-01-01&to=2026-01-31", None),
    ("GET", "/api/bots/{bot}/analytics/messages.csv?from=2026-01-01&to=2026-01-31", None),
    ("GET", "/api/bots/{bot}/analytics/conversations.json?from=2026-01-01&to=2026-01-31", None),
]


def id_taking_fields() -> set[str]:
    names = set()
    parsed = parse_sdl(schema.as_str())
    for root in (parsed.query_type, parsed.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            types = [arg.type for arg in field.args.values()]
            named = [
                get_named_type(t.of_type if isinstance(t, GraphQLNonNull) else t) for t in types
            ]
            if any(t.name == "ID" for t in named):
                names.add(name)
    return names


def test_every_operation_taking_an_id_is_covered() -> None:
    assert id_taking_fields() - NOT_ORGANIZATION_SCOPED == set(OPERATIONS)


async def organization_with_everything(api: httpx.AsyncClient, org: str) -> tuple[GraphQL, dict]:
    """An owner's client and the ids of a bot, channel, flow, version, template and API key."""
    owner, payload = await sign_up(api, org=org)
    bot = (await owner(CREATE_BOT, name=f"{org} bot"))["createBot"]["id"]
    channel = (await owner(CONNECT, bot=bot, input=WHATSAPP_CHANNEL))["connectChannel"]["id"]
    flow = (
        await owner(
            CREATE_FLOW,
            bot=bot,
            input={"name": "Welcome", "definition": flow_definition(f"Hello from {org}")},
        )
    )["createFlow"]["id"]
    version = (await owner(PUBLISH, id=flow, message="v1"))["publishFlow"]["id"]
    template = (await owner("mutation($f: ID!) { saveFlowAsTemplate(flowId: $f) { id } }", f=flow))[
        "saveFlowAsTemplate"
    ]["id"]
    key = await owner('mutation { createApiKey(name: "k") { apiKey { id } } }')
    web = (await owner(CONNECT, bot=bot, input={"kind": "WEB"}))["connectChannel"]["id"]
    await owner(SET_SMTP, host=f"smtp.{org.lower()}.example")
    listing = await owner(CREATE_LISTING, input=listing_input(f"{org} listing"))
    ids = {
        "bot": bot,
        "channel": channel,
        "flow": flow,
        "version": version,
        "template": template,
        "api_key": key["createApiKey"]["apiKey"]["id"],
        "user": payload["member"]["user"]["id"],
        "web_channel": web,
        "listing": listing["createListing"]["id"],
        **await conversation_and_outreach(api, owner, flow, web),
        **await webhook_endpoint_and_delivery(owner),
    }
    return owner, ids


async def conversation_and_outreach(
    api: httpx.AsyncClient, owner: GraphQL, flow: str, web: str
) -> dict[str, str]:
    """A conversation (a visitor wrote on the web channel) and a proactive start."""
    await WebChat(api, web, "visitor").say("hello")

    async def conversation() -> str | None:
        page = await owner("query { conversations { items { id } } }")
        return page["conversations"]["items"][0]["id"] if page["conversations"]["items"] else None

    started = await owner(
        "mutation($f: ID!, $c: ID!) { startFlow(flowId: $f, channelId: $c, "
        'contacts: [{externalId: "x"}]) { id } }',
        f=flow,
        c=web,
    )
    return {
        "conversation": await wait_for(conversation, what="the conversation"),
        "outreach": started["startFlow"]["id"],
    }


async def webhook_endpoint_and_delivery(owner: GraphQL) -> dict[str, str]:
    """A webhook endpoint (to a closed port) with a test delivery."""
    created = await owner(
        'mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/x", '
        'events: ["payment.completed"]}) { endpoint { id } } }'
    )
    endpoint = created["createWebhookEndpoint"]["endpoint"]["id"]
    test = await owner("mutation($e: ID!) { sendTestWebhook(endpointId: $e) { id } }", e=endpoint)
    return {"webhook_endpoint": endpoint, "webhook_delivery": test["sendTestWebhook"]["id"]}


async def snapshot(client: GraphQL, ids: dict[str, str]) -> dict[str, Any]:
    return await client(
        """query($bot: ID!, $flow: ID!) {
             bot(id: $bot) { name defaultFlowId channels { name isActive hasSecrets }
                             flows { name definition publishedVersionId } }
             flow(id: $flow) { versions { version } }
             apiKeys { revokedAt } templates { id } members { role }
             myListings { status versions { version } } myPurchases { id }
             integrations { kind config hasSecrets updatedAt }
             webhookEndpoints { url description active events } }""",
        bot=ids["bot"],
        flow=ids["flow"],
    )


async def test_no_organization_reaches_another_ones_objects(api: httpx.AsyncClient) -> None:
    alice, mine = await organization_with_everything(api, "Alice")
    bob, theirs = await organization_with_everything(api, "Bob")
    before = await snapshot(bob, theirs)

    for field, (operation, variables) in OPERATIONS.items():
        own = {n: mine[k] for n, k in variables.items()}  # one id foreign at a time
        for name, kind in variables.items():
            foreign = await alice.error(operation, **{**own, name: theirs[kind]})
            missing = await alice.error(operation, **{**own, name: MISSING})
            malformed = await alice.error(operation, **{**own, name: "not-an-id"})
            assert foreign["code"] == "NOT_FOUND", (field, name, foreign)
            assert (
                (foreign["code"], foreign["message"])
                == (missing["code"], missing["message"])
                == (malformed["code"], malformed["message"])
            ), field
    await alice(SET_SMTP, host="smtp.mine.example")  # integrations are the caller's own
    await alice("mutation { deleteIntegration(kind: SMTP) }")
    assert await snapshot(bob, theirs) == before

    for method, path, body in HTTP_ROUTES:
        for target, expected in ((theirs, 404), (mine, None)):
            url = path.format(**target)
            headers = {"Authorization": f"Bearer {alice.token}"}
            if body == "file":
                response = await api.post(url, files={"file": ("f.json", b"{}")}, headers=headers)
            elif body is not None:
                response = await api.post(url, json={"flow_ids": [target["flow"]]}, headers=headers)
            else:
                response = await api.request(method, url, headers=headers)
            if expected:
                assert response.status_code == 404, (path, response.text)
                assert response.json()["error"]["code"] == "NOT_FOUND"
            else:
                assert response.status_code in (200, 422), (path, response.text)
    assert await snapshot(bob, theirs) == before

    # Analytics without a bot cover the caller's organization only.
    everywhere = await alice("query { analyticsRealTime { messagesLastHour } }")
    own = await alice(ANALYTICS_NOW, b=mine["bot"])
    assert everywhere == own and own["analyticsRealTime"]["messagesLastHour"] > 0
