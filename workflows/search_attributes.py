"""Search attributes that let an operator find any conversation, flow run or webhook endpoint's
delivery workflow in the Temporal UI."""

from temporalio.common import SearchAttributeKey

BOT_ID = SearchAttributeKey.for_keyword("BotId")
CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
FLOW_ID = SearchAttributeKey.for_keyword("FlowId")
STATUS = SearchAttributeKey.for_keyword("Status")
WEBHOOK_ENDPOINT_ID = SearchAttributeKey.for_keyword("WebhookEndpointId")

ALL_SEARCH_ATTRIBUTES = (BOT_ID, CONTACT_ID, CHANNEL, FLOW_ID, STATUS, WEBHOOK_ENDPOINT_ID)
