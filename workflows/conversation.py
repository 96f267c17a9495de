"""`ConversationWorkflow`: one per (bot, channel, contact); orders, dedupes and routes messages."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from models.agent_actions import AgentAction, agent_action_problem
    from models.messages import InboundMessage
    from models.payloads.activity_names import (
        RECORD_INBOUND,
    )
    from models.payloads.engine import (
        ConversationEvent,
        ConversationInput,
        ConversationState,
        FlowSnapshot,
        FlowStart,
        FlowStartResult,
        RunFinished,
    )
    from workflows import summaries
    from workflows.conversation_base import (
        LOCAL_DB,
        ConversationBase,
    )
    from workflows.flow_run import FlowRunWorkflow
    from workflows.interpreter import flow_run_search_attributes
    from workflows.search_attributes import STATUS, conversation_attributes

DELIVERED_KEPT = 50  # far more than can be in flight between a run's end and its report
# workflow.patched id: an inbound message is stored and its flow chosen in one local activity
RECORD_AND_ROUTE = "record-and-route-in-one-activity"


@workflow.defn(name="Conversation")
class ConversationWorkflow(ConversationBase):
    """Handles a contact's messages strictly in arrival order; a flow run is a child workflow
    (conversations started before `BotConversation` drain on it)."""

    def __init__(self) -> None:
        super().__init__()
        self._events: deque[ConversationEvent] = deque()

    @workflow.signal
    def inbound(self, message: InboundMessage) -> None:
        """A message from the contact (delivered by channel ingress with signal-with-start)."""
        self._events.append(ConversationEvent(kind="inbound", message=message))

    @workflow.signal
    def run_finished(self, finished: RunFinished) -> None:
        self._events.append(
            ConversationEvent(
                kind="finished", run_workflow_id=finished.run_workflow_id, finished=finished
            )
        )

    @workflow.signal
    def run_handed_off(self, run_workflow_id: str) -> None:
        self._events.append(ConversationEvent(kind="handed_off", run_workflow_id=run_workflow_id))

    @workflow.signal
    def release(self, mode: str) -> None:
        """An agent gives the conversation back to the bot: `resume` or `end` the flow."""
        if mode not in ("resume", "end"):
            raise ApplicationError(f"release mode must be 'resume' or 'end', not {mode!r}")
        self._events.append(ConversationEvent(kind="release", release_mode=mode))

    @workflow.update
    async def agent_action(self, action: AgentAction) -> str | None:
        """An agent's action, done in order with the contact's messages; returns the id of the
        stored message (`send`) or note (`note`)."""
        result = await self._outcome(ConversationEvent(kind="agent", action=action))
        return None if result is None else str(result)

    @agent_action.validator
    def _check_agent_action(self, action: AgentAction) -> None:
        state = getattr(self, "state", None)
        problem = agent_action_problem(action, state is not None and state.handed_off)
        if problem:
            raise ApplicationError(problem, type="ActionRefused")

    @workflow.update
    async def start_flow(self, start: FlowStart) -> FlowStartResult:
        """Start a flow for the contact without waiting for them to write (proactive start)."""
        result = await self._outcome(ConversationEvent(kind="start_flow", flow_start=start))
        assert isinstance(result, FlowStartResult)
        return result

    @workflow.query
    def status(self) -> dict[str, object]:
        """The active run, whether an agent has the conversation, and what is queued."""
        return {
            "active_run": self.state.active_run,
            "handed_off": self.state.handed_off,
            "taken_over": self.state.taken_over,
            "pending_events": len(self._events),
        }

    async def _outcome(self, event: ConversationEvent) -> object:
        """Queue an update's event behind what is already queued; its result once handled."""
        key = workflow.current_update_info().id  # type: ignore[union-attr]
        self._events.append(event.model_copy(update={"update_id": key}))
        return await self._await_outcome(key)

    @workflow.run
    async def run(self, params: ConversationInput) -> str:
        await self._open(params, ConversationState)
        workflow.upsert_search_attributes(
            [
                *conversation_attributes(
                    params.bot_id,
                    self.state.bot.name,
                    params.channel_kind,
                    params.contact.external_id,
                    self.state.contact_id,
                    self.state.conversation_id,
                ),
                STATUS.value_set("handed_off" if self.state.handed_off else "active"),
            ]
        )
        while True:
            idle = timedelta(seconds=self.state.inactivity_seconds)
            timeout = idle if self.state.active_run is None else None
            self._describe(timeout, self.state.active_run)
            try:
                await workflow.wait_condition(
                    lambda: bool(self._events),
                    timeout=timeout,
                    timeout_summary=f"no message for {summaries.duration(idle)}: abandoned",
                )
            except TimeoutError:
                await self._set_status("abandoned")
                return "abandoned"
            while self._events:
                await self._handle(self._events.popleft())
            closed = self.state.closing and self.state.active_run is None
            if closed or workflow.info().is_continue_as_new_suggested():
                # updates answer first; a message arriving meanwhile is handled, not dropped
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or bool(self._events)
                )
                if self._events:
                    continue
                if closed:
                    return "closed"
                self._continue_as_new()

    async def _handle(self, event: ConversationEvent) -> None:
        state = self.state
        if event.kind == "inbound" and event.message is not None:
            if workflow.patched(RECORD_AND_ROUTE):
                await self._record_and_route(event.message)
            elif await self._record(event.message):
                await self._reopen()
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
            if state.handed_off and not state.taken_over:
                state.handed_off = False
                await self._set_status("active")
            for message in leftovers:
                await self._route(message)
        elif event.kind == "handed_off" and event.run_workflow_id == state.active_run:
            state.handed_off = True
            await self._set_status("handed_off")
        elif event.kind == "release" and state.handed_off:
            state.handed_off = state.taken_over = False
            await self._set_status("active")
            await self._release(event.release_mode or "end")
        elif event.kind == "agent" and event.action is not None and event.update_id:
            self._outcomes[event.update_id] = await self._agent(event.action, event.update_id)
        elif event.kind == "start_flow" and event.flow_start is not None and event.update_id:
            self._outcomes[event.update_id] = (await self._proactive(event.flow_start), None)

    def _has_run(self) -> bool:
        return self.state.active_run is not None

    async def _hold_run(self) -> None:
        await self._signal_run(FlowRunWorkflow.hold)

    async def _release_run(self, mode: str) -> None:
        await self._signal_run(FlowRunWorkflow.release, mode)

    async def _signal_run(self, signal: Callable[..., None], *args: Any) -> bool:
        """Signal the active run; False when it has already ended (its `run_finished` is on
        the way)."""
        assert self.state.active_run is not None
        handle = workflow.get_external_workflow_handle(self.state.active_run)
        try:
            await handle.signal(signal, args=args)
        except FailureError:
            return False
        return True

    async def _record(self, message: InboundMessage) -> bool:
        """Store the message once; False for a duplicate delivery (histories from before
        `RECORD_AND_ROUTE`)."""
        delivery_key = self._delivery_key(message)
        if delivery_key is None:
            return False
        return await workflow.execute_local_activity(
            RECORD_INBOUND,
            args=[self.state.conversation_id, self.params.channel_id, message, delivery_key],
            result_type=bool,
            summary=summaries.received(message, self.state.bot),
            **LOCAL_DB,
        )

    async def _deliver(self, message: InboundMessage) -> None:
        """Hand the message to the active run, which queues it until it asks for a reply.

        A run that has ended cannot take it, and a run that has already reported its end
        never reads it: either way the message is routed again once the run's
        `run_finished` arrives (the run reports how many deliveries it received).
        """
        state = self.state
        if not await self._signal_run(FlowRunWorkflow.deliver, message):
            state.pending.append(message)
            return
        state.delivered_count += 1
        state.delivered = [*state.delivered[-(DELIVERED_KEPT - 1) :], message]

    async def _start_run(
        self,
        snapshot: FlowSnapshot,
        trigger: InboundMessage | None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        state = self.state
        run_input = self._run_input(snapshot, trigger, variables or {})
        run_id = f"{workflow.info().workflow_id}-run-{state.run_count}"
        await workflow.start_child_workflow(
            FlowRunWorkflow.run,
            run_input,
            id=run_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(flow_run_search_attributes(run_input)),
            static_summary=summaries.run_summary(run_input),
            static_details=summaries.run_details(run_input),
        )
        state.active_run = run_id

    def _continue_as_new(self) -> None:
        self.state.recent_message_ids = list(self._recent)
        self.state.events = list(self._events)
        workflow.continue_as_new(self.params.model_copy(update={"state": self.state}))
