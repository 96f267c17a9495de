"""`ConversationWorkflow`: one per (bot, channel, contact); orders, dedupes and routes messages."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from models.engine import (
        ConversationEvent,
        ConversationInput,
        ConversationRecord,
        ConversationState,
        FlowRunInput,
        FlowSnapshot,
        RunFinished,
        StartFlow,
    )
    from models.messages import InboundMessage
    from workflows.activity_names import (
        LOAD_PUBLISHED_FLOW,
        MATCH_FLOW,
        OPEN_CONVERSATION,
        RECORD_INBOUND,
        SET_CONVERSATION_STATUS,
    )
    from workflows.flow_run import FlowRunWorkflow, flow_run_search_attributes
    from workflows.search_attributes import BOT_ID, CHANNEL, CONTACT_ID, STATUS

LOCAL_DB = {"start_to_close_timeout": timedelta(seconds=10),
            "retry_policy": RetryPolicy(maximum_attempts=5)}  # fmt: skip
RECENT_IDS_KEPT = 500
DELIVERED_KEPT = 50  # far more than can be in flight between a run's end and its report


def conversation_workflow_id(bot_id: str, channel_id: str, contact_external_id: str) -> str:
    """The deterministic id of a contact's conversation with a bot on a channel."""
    return f"conversation-{bot_id}-{channel_id}-{contact_external_id}"


@workflow.defn(name="Conversation")
class ConversationWorkflow:
    """Handles a contact's messages strictly in arrival order; a flow run is a child workflow."""

    def __init__(self) -> None:
        self._events: deque[ConversationEvent] = deque()

    @workflow.signal
    def inbound(self, message: InboundMessage) -> None:
        """A message from the contact (delivered by channel ingress with signal-with-start)."""
        self._events.append(ConversationEvent(kind="inbound", message=message))

    @workflow.signal
    def run_finished(self, finished: RunFinished) -> None:
        self._events.append(
            ConversationEvent(kind="finished", run_workflow_id=finished.run_workflow_id,
                              finished=finished)
        )  # fmt: skip

    @workflow.signal
    def run_handed_off(self, run_workflow_id: str) -> None:
        self._events.append(ConversationEvent(kind="handed_off", run_workflow_id=run_workflow_id))

    @workflow.signal
    def release(self, mode: str) -> None:
        """An agent gives the conversation back to the bot: `resume` or `end` the flow."""
        if mode not in ("resume", "end"):
            raise ApplicationError(f"release mode must be 'resume' or 'end', not {mode!r}")
        self._events.append(ConversationEvent(kind="release", release_mode=mode))

    @workflow.signal
    def start_flow(self, start: StartFlow) -> None:
        """Run a published flow now (a proactive start); ignored while a run or an agent is
        busy with the contact, and when the same request was already handled."""
        self._events.append(ConversationEvent(kind="start_flow", start=start))

    @workflow.query
    def status(self) -> dict[str, object]:
        """The active run, whether an agent has the conversation, and what is queued."""
        return {
            "active_run": self.state.active_run, "handed_off": self.state.handed_off,
            "pending_events": len(self._events),
        }  # fmt: skip

    @workflow.run
    async def run(self, params: ConversationInput) -> str:
        self.params = params
        if params.state is None:
            record = await workflow.execute_local_activity(
                OPEN_CONVERSATION, params, result_type=ConversationRecord, **LOCAL_DB
            )
            self.state = ConversationState(
                conversation_id=record.conversation_id, contact_id=record.contact_id,
                contact=record.contact, inactivity_seconds=record.inactivity_seconds,
            )  # fmt: skip
        else:
            self.state = params.state
            self._events.extendleft(reversed(self.state.events))
        self._recent = deque(self.state.recent_message_ids, maxlen=RECENT_IDS_KEPT)
        workflow.upsert_search_attributes([
            BOT_ID.value_set(params.bot_id), CONTACT_ID.value_set(self.state.contact_id),
            CHANNEL.value_set(params.channel_kind),
            STATUS.value_set("handed_off" if self.state.handed_off else "active"),
        ])  # fmt: skip
        while True:
            idle = timedelta(seconds=self.state.inactivity_seconds)
            timeout = idle if self.state.active_run is None else None
            try:
                await workflow.wait_condition(lambda: bool(self._events), timeout=timeout)
            except TimeoutError:
                await self._set_status("abandoned")
                return "abandoned"
            while self._events:
                await self._handle(self._events.popleft())
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._continue_as_new()

    async def _handle(self, event: ConversationEvent) -> None:
        state = self.state
        if event.kind == "inbound" and event.message is not None:
            if await self._record(event.message):
                await self._route(event.message)
        elif event.kind == "finished" and event.finished is not None:
            if event.run_workflow_id != state.active_run:
                return
            # Messages delivered after the run said it had finished are in no one's hands.
            late = state.delivered_count - event.finished.received
            in_flight = state.delivered[len(state.delivered) - late :] if late > 0 else []
            leftovers = event.finished.unconsumed + in_flight + state.pending
            state.active_run, state.pending = None, []
            state.delivered, state.delivered_count = [], 0
            if state.handed_off:
                state.handed_off = False
                await self._set_status("active")
            for message in leftovers:
                await self._route(message)
        elif event.kind == "handed_off" and event.run_workflow_id == state.active_run:
            state.handed_off = True
            await self._set_status("handed_off")
        elif event.kind == "start_flow" and event.start is not None:
            await self._start_requested(event.start)
        elif event.kind == "release" and state.handed_off:
            state.handed_off = False
            await self._set_status("active")
            if state.active_run is not None:
                handle = workflow.get_external_workflow_handle(state.active_run)
                await handle.signal(FlowRunWorkflow.release, event.release_mode or "end")

    async def _record(self, message: InboundMessage) -> bool:
        """Store the message once; False for a duplicate delivery."""
        if message.provider_message_id in self._recent:
            return False
        self._recent.append(message.provider_message_id)
        return await workflow.execute_local_activity(
            RECORD_INBOUND, args=[self.state.conversation_id, self.params.channel_id, message],
            result_type=bool, **LOCAL_DB,
        )  # fmt: skip

    async def _route(self, message: InboundMessage) -> None:
        state = self.state
        if state.handed_off:
            return
        if state.active_run is not None:
            await self._deliver(message)
            return
        snapshot = await workflow.execute_local_activity(
            MATCH_FLOW, args=[self.params.bot_id, message.answer_text()],
            result_type=FlowSnapshot | None, **LOCAL_DB,
        )  # fmt: skip
        if snapshot is not None:
            await self._start_run(snapshot, message)

    async def _start_requested(self, start: StartFlow) -> None:
        if start.request_id in self._recent:
            return
        self._recent.append(start.request_id)
        if self.state.active_run is not None or self.state.handed_off:
            return
        snapshot = await workflow.execute_local_activity(
            LOAD_PUBLISHED_FLOW, args=[self.params.bot_id, start.flow_id],
            result_type=FlowSnapshot | None, **LOCAL_DB,
        )  # fmt: skip
        if snapshot is not None:
            await self._start_run(snapshot, None)

    async def _deliver(self, message: InboundMessage) -> None:
        """Hand the message to the active run, which queues it until it asks for a reply.

        A run that has ended cannot take it, and a run that has already reported its end
        never reads it: either way the message is routed again once the run's
        `run_finished` arrives (the run reports how many deliveries it received).
        """
        assert self.state.active_run is not None
        state = self.state
        handle = workflow.get_external_workflow_handle(state.active_run)
        try:
            await handle.signal(FlowRunWorkflow.deliver, message)
        except FailureError:
            state.pending.append(message)
            return
        state.delivered_count += 1
        state.delivered = [*state.delivered[-(DELIVERED_KEPT - 1) :], message]

    async def _start_run(self, snapshot: FlowSnapshot, trigger: InboundMessage | None) -> None:
        state = self.state
        state.run_count += 1
        run_input = FlowRunInput(
            conversation_workflow_id=workflow.info().workflow_id,
            conversation_id=state.conversation_id, bot_id=self.params.bot_id,
            channel_id=self.params.channel_id, channel_kind=self.params.channel_kind,
            contact_id=state.contact_id, contact=state.contact, flow=snapshot,
            trigger_message=trigger, inactivity_seconds=state.inactivity_seconds,
        )  # fmt: skip
        run_id = f"{workflow.info().workflow_id}-run-{state.run_count}"
        await workflow.start_child_workflow(
            FlowRunWorkflow.run, run_input, id=run_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(flow_run_search_attributes(run_input)),
        )  # fmt: skip
        state.active_run = run_id

    async def _set_status(self, status: str) -> None:
        workflow.upsert_search_attributes([STATUS.value_set(status)])
        await workflow.execute_local_activity(
            SET_CONVERSATION_STATUS, args=[self.state.conversation_id, status], **LOCAL_DB
        )

    def _continue_as_new(self) -> None:
        self.state.recent_message_ids = list(self._recent)
        self.state.events = list(self._events)
        workflow.continue_as_new(self.params.model_copy(update={"state": self.state}))
