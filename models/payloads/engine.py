"""Pydantic types passed between the API, the workflows and the activities of the engine."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from models.agent_actions import AgentAction
from models.messages import InboundMessage, OutboundMessage
from models.payloads.integrations import PaymentOutcome

RunStatus = Literal["completed", "failed", "abandoned", "cancelled"]


class ContactRef(BaseModel):
    """Who a conversation is with, as the channel identifies them."""

    external_id: str
    name: str | None = None


class BotTraits(BaseModel):
    """What a conversation's workflows show of their bot in the Temporal UI."""

    name: str = ""
    sensitive_data: bool = Field(
        default=False, description="No message text in summaries and details."
    )


class ConversationState(BaseModel):
    """What a conversation carries across continue-as-new."""

    conversation_id: str
    contact_id: str
    contact: dict[str, Any] = Field(default_factory=dict)
    inactivity_seconds: int
    bot: BotTraits = Field(default_factory=BotTraits)
    active_run: str | None = None
    delivered: list[InboundMessage] = Field(
        default_factory=list, description="The latest messages delivered to the active run."
    )
    delivered_count: int = 0
    handed_off: bool = False
    taken_over: bool = False  # by an agent (not by a flow's transfer node)
    closing: bool = False  # an agent closed it; the workflow ends with the active run
    run_count: int = 0
    recent_message_ids: list[str] = Field(default_factory=list)
    pending: list[InboundMessage] = Field(default_factory=list)
    events: list[ConversationEvent] = Field(default_factory=list)


class ConversationInput(BaseModel):
    """Start arguments of `ConversationWorkflow` (one per bot, channel and contact)."""

    bot_id: str
    channel_id: str
    channel_kind: str
    contact: ContactRef
    state: ConversationState | None = None


class ConversationRecord(BaseModel):
    """The stored conversation and contact, as `open_conversation` returns them."""

    conversation_id: str
    contact_id: str
    contact: dict[str, Any]
    inactivity_seconds: int
    bot: BotTraits = Field(default_factory=BotTraits)
    previous_runs: int = 0  # runs of earlier executions: new run ids continue after them


class RunFinished(BaseModel):
    """A flow run's last word to its conversation."""

    run_workflow_id: str
    status: RunStatus
    unconsumed: list[InboundMessage] = Field(default_factory=list)
    received: int = Field(default=0, description="Messages the conversation delivered to the run.")


class ConversationEvent(BaseModel):
    """One entry of a conversation's ordered inbox."""

    kind: Literal["inbound", "finished", "handed_off", "release", "agent", "start_flow"]
    message: InboundMessage | None = None
    run_workflow_id: str | None = None
    finished: RunFinished | None = None
    release_mode: Literal["resume", "end"] | None = None
    action: AgentAction | None = None
    flow_start: FlowStart | None = None
    update_id: str | None = None  # the update waiting for this event's outcome


class FlowSnapshot(BaseModel):
    """A published flow version, pinned for the whole run."""

    flow_id: str
    version_id: str
    version: int
    name: str
    definition: dict[str, Any]


class InboundRecorded(BaseModel):
    """An inbound message stored (`new`: not a repeated delivery) and, when the conversation
    asked for it, the flow it starts (None: no flow matches, or none was asked for)."""

    new: bool
    flow: FlowSnapshot | None = None


class OpenedConversation(BaseModel):
    """What `open_conversation_and_record` returns: the conversation, and its first message
    recorded."""

    conversation: ConversationRecord
    first: InboundRecorded


class FlowStart(BaseModel):
    """Start a flow for a contact who has not written (a proactive start); `key` dedupes it."""

    key: str
    flow: FlowSnapshot
    variables: dict[str, Any] = Field(default_factory=dict)  # the run starts with these set


class FlowStartResult(BaseModel):
    """Whether a proactive start began a run, and why not."""

    started: bool
    reason: str | None = None
    conversation_id: str


class FlowRunState(BaseModel):
    """Interpreter position carried across a flow run's continue-as-new."""

    run_id: str
    node_id: str | None
    variables: dict[str, Any]
    step_sequence: int
    replies: list[InboundMessage] = Field(default_factory=list)
    received: int = 0
    events: dict[str, Any] = Field(default_factory=dict)  # external events not yet awaited
    asked_at: str | None = None  # when the run last sent something (ISO 8601, workflow time)


class FlowRunInput(BaseModel):
    """Start arguments of `FlowRunWorkflow`."""

    conversation_workflow_id: str
    conversation_id: str
    bot_id: str
    channel_id: str
    channel_kind: str
    contact_id: str
    contact: dict[str, Any]
    flow: FlowSnapshot
    trigger_message: InboundMessage | None = None
    inactivity_seconds: int
    bot: BotTraits = Field(default_factory=BotTraits)
    state: FlowRunState | None = None
    variables: dict[str, Any] = Field(default_factory=dict)  # set on top of the flow's own


class ExternalEvent(BaseModel):
    """An event from outside (`POST /api/triggers/events`) for a run's `waitEvent` node."""

    name: str
    data: dict[str, Any] = Field(default_factory=dict)


class StepRecord(BaseModel):
    """One executed node, for the `flow_run_steps` table."""

    run_id: str
    sequence: int
    node_id: str
    node_type: str
    outcome: str
    started_at: str
    ended_at: str
    error: dict[str, Any] | None = None
    output: dict[str, Any] | None = None  # what an integration step produced (email id, SID)


class RunStart(BaseModel):
    """A flow run's row, stored by the run's first write (its id chosen by the workflow)."""

    run_id: str
    conversation_id: str
    flow_id: str
    version_id: str
    workflow_id: str
    variables: dict[str, Any]


class UnstoredInbound(BaseModel):
    """A contact's message that the flow run waiting for it took as its answer before it was
    stored: the run's next write stores it (with its delivery key, as the conversation would)."""

    conversation_id: str
    channel_id: str
    channel_kind: str
    message: InboundMessage
    delivery_key: str


class RunEnd(BaseModel):
    """A flow run's end, stored with the steps (and the start, and the answers) it had not
    stored yet."""

    run_id: str
    status: str
    variables: dict[str, Any]
    error: str | None = None
    steps: list[StepRecord] = []
    start: RunStart | None = None
    inbound: list[UnstoredInbound] = []


class SendRequest(BaseModel):
    """An outbound message for the contact of a conversation."""

    conversation_id: str
    channel_id: str
    channel_kind: str
    contact_external_id: str
    message: OutboundMessage
    idempotency_key: str
    sent_by_user_id: str | None = None  # an agent's message (none: the bot's)
    steps: list[StepRecord] = []  # the run's steps since it last stored any, stored with it
    start: RunStart | None = None  # the run's row, when this is the run's first write
    inbound: list[UnstoredInbound] = []  # the answers the run took since it last stored any
    # The run's end when this is its last node's send: stored with the send's result, the
    # node's step ending as the provider takes the message (a failed send stores neither)
    end: RunEnd | None = None


class SentMessage(BaseModel):
    """What `send_message` returns (histories from before it hold only the id)."""

    message_id: str
    stored_at: str  # ISO 8601: before the first provider call, the same on every retry


class InboundEvent(BaseModel):
    """A contact's message, in a `BotConversation`'s ordered inbox."""

    kind: Literal["inbound"] = "inbound"
    message: InboundMessage


class ReleaseEvent(BaseModel):
    """An agent gives the conversation back to the bot: `resume` or `end` the flow."""

    kind: Literal["release"] = "release"
    mode: Literal["resume", "end"]


class AgentEvent(BaseModel):
    """An agent's action; `update_id` is the update waiting for its outcome."""

    kind: Literal["agent"] = "agent"
    action: AgentAction
    update_id: str


class StartFlowEvent(BaseModel):
    """A proactive start; `update_id` is the update waiting for its outcome."""

    kind: Literal["start_flow"] = "start_flow"
    start: FlowStart
    update_id: str


BotEvent = Annotated[
    InboundEvent | ReleaseEvent | AgentEvent | StartFlowEvent, Field(discriminator="kind")
]


class HostedFlow(BaseModel):
    """A flow run a `BotConversation` takes up in its next workflow run: one not begun yet
    (`position` None, `replies` queued for it), or one continuing as new."""

    input: FlowRunInput
    address: str | None = None  # flow_runs.workflow_id, once begun
    position: FlowRunState | None = None
    replies: list[InboundMessage] = Field(default_factory=list)
    held: bool = False
    release_mode: Literal["resume", "end"] | None = None


class BotConversationState(BaseModel):
    """What a `BotConversation` carries across continue-as-new."""

    conversation_id: str
    contact_id: str
    contact: dict[str, Any] = Field(default_factory=dict)
    inactivity_seconds: int
    bot: BotTraits = Field(default_factory=BotTraits)
    handed_off: bool = False
    taken_over: bool = False  # by an agent (not by a flow's transfer node)
    closing: bool = False  # an agent closed it; the workflow ends with the active run
    run_count: int = 0
    recent_message_ids: list[str] = Field(default_factory=list)
    events: list[BotEvent] = Field(default_factory=list)
    flow: HostedFlow | None = None


class BotConversationInput(BaseModel):
    """Start arguments of `BotConversationWorkflow` (one per bot, channel and contact)."""

    bot_id: str
    channel_id: str
    channel_kind: str
    contact: ContactRef
    state: BotConversationState | None = None
    revision: int = 0  # of the engine the run began on (`workflows.interpreter.REVISION`)


class RunExternalEvent(BaseModel):
    """An external event for the flow run `run_workflow_id` of a `BotConversation`."""

    run_workflow_id: str
    event: ExternalEvent


class RunPaymentSettled(BaseModel):
    """Stripe's word on a payment of the flow run `run_workflow_id` of a `BotConversation`."""

    run_workflow_id: str
    outcome: PaymentOutcome


ConversationEvent.model_rebuild()
ConversationState.model_rebuild()
