"""Search attributes that let an operator find any conversation, flow run or webhook endpoint's
delivery workflow in the Temporal UI.

`ContactId` is the contact's address as its channel knows it (the phone number on WhatsApp and
Twilio, the visitor id on the web), so one search by phone number finds a conversation and
its runs; the database ids have attributes of their own.
"""

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

BOT_ID = SearchAttributeKey.for_keyword("BotId")
BOT_NAME = SearchAttributeKey.for_keyword("BotName")
CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
CONTACT_UUID = SearchAttributeKey.for_keyword("ContactUuid")
CONVERSATION_ID = SearchAttributeKey.for_keyword("ConversationId")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
FLOW_ID = SearchAttributeKey.for_keyword("FlowId")
FLOW_NAME = SearchAttributeKey.for_keyword("FlowName")
FLOW_VERSION = SearchAttributeKey.for_int("FlowVersion")
STATUS = SearchAttributeKey.for_keyword("Status")
WEBHOOK_ENDPOINT_ID = SearchAttributeKey.for_keyword("WebhookEndpointId")

ALL_SEARCH_ATTRIBUTES = (
    *(BOT_ID, BOT_NAME, CONTACT_ID, CONTACT_UUID, CONVERSATION_ID, CHANNEL),
    *(FLOW_ID, FLOW_NAME, FLOW_VERSION, STATUS, WEBHOOK_ENDPOINT_ID),
)


def conversation_attributes(
    bot_id: str,
    bot_name: str,
    channel_kind: str,
    contact_address: str,
    contact_uuid: str,
    conversation_id: str,
) -> list[SearchAttributeUpdate[Any]]:
    """What a conversation and each of its runs are found by (an empty bot name is left out:
    a conversation started before bots' names were carried)."""
    updates = [
        BOT_ID.value_set(bot_id),
        CONTACT_ID.value_set(contact_address),
        CONTACT_UUID.value_set(contact_uuid),
        CONVERSATION_ID.value_set(conversation_id),
        CHANNEL.value_set(channel_kind),
    ]
    return [*updates, BOT_NAME.value_set(bot_name)] if bot_name else updates


def upsert_changed(updates: list[SearchAttributeUpdate[Any]]) -> None:
    """Upsert those of `updates` that change the workflow run's values: none (a run that began
    with them, as a conversation's next flow run does) costs no history event."""
    current = workflow.info().typed_search_attributes
    changed = [update for update in updates if current.get(update.key) != update.value]
    if changed:
        workflow.upsert_search_attributes(changed)
