"""`ConversationWorkflow`: one per (bot, channel, contact); orders, dedupes and routes messages."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from models.agent_actions import AgentAction, agent_action_problem
    from models.messages import InboundMessage, OutboundMessage
    from models.payloads.activity_names import (
        MATCH_FLOW,
        OPEN_CONVERSATION,
        RECORD_AGENT_ACTION,
        RECORD_AND_MATCH,
        RECORD_INBOUND,
        SEND_MESSAGE,
        SET_CONVERSATION_STATUS,
    )
    from models.payloads.engine import (
        ConversationEvent,
        ConversationInput,
        ConversationRecord,
        ConversationState,
        FlowRunInput,
        FlowSnapshot,
        FlowStart,
        FlowStartResult,
        InboundRecorded,
        RunFinished,
        SendRequest,
        SentMessage,
    )
    from workflows import summaries
    from workflows.flow_run import FlowRunWorkflow
    from workflows.interpreter import flow_run_search_attributes
    from workflows.search_attributes import STATUS, conversation_attributes

LOCAL_DB = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
RECENT_IDS_KEPT = 500
DELIVERED_KEPT = 50  # far more than can be in flight between a run's end and its report
AGENT_SEND = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
Outcome = tuple[object, str | None]  # (result, refusal)
# workflow.patched id: an inbound message is stored and its flow chosen in one local activity
RECORD_AND_ROUTE = "record-and-route-in-one-activity"


def conversation_workflow_id(bot_id: str, channel_id: str, contact_external_id: str) -> str:
    """The deterministic id of a contact's conversation with a bot on a channel."""
    return f"conversation-{bot_id}-{channel_id}-{contact_external_id}"


@workflow.defn(name="Conversation")
class ConversationWorkflow:
    """Handles a contact's messages strictly in arrival order; a flow run is a child workflow."""

    def __init__(self) -> None:
        self._events: deque[ConversationEvent] = deque()
        self._outcomes: dict[str, Outcome] = {}

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
        await workflow.wait_condition(lambda: key in self._outcomes)
        result, refusal = self._outcomes.pop(key)
        if refusal is not None:
            raise ApplicationError(refusal, type="ActionRefused", non_retryable=True)
        return result

    @workflow.run
    async def run(self, params: ConversationInput) -> str:
        self.params = params
        if params.state is None:
            record = await workflow.execute_local_activity(
                OPEN_CONVERSATION,
                params,
                result_type=ConversationRecord,
                summary="open the conversation",
                **LOCAL_DB,
            )
            self.state = ConversationState(
                conversation_id=record.conversation_id,
                contact_id=record.contact_id,
                contact=record.contact,
                inactivity_seconds=record.inactivity_seconds,
                run_count=record.previous_runs,
                bot=record.bot,
            )
        else:
            self.state = params.state
            self._events.extendleft(reversed(self.state.events))
        self._recent = deque(self.state.recent_message_ids, maxlen=RECENT_IDS_KEPT)
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
            self._describe(timeout)
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

    async def _release(self, mode: str) -> None:
        """Give the conversation back to the bot; the held or handed-off run resumes or ends."""
        state = self.state
        state.handed_off = state.taken_over = False
        if state.active_run is not None:
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

    async def _agent(self, action: AgentAction, key: str) -> Outcome:
        """Do an agent's action; `(stored id or None, refusal or None)`."""
        state = self.state
        problem = agent_action_problem(action, state.handed_off)
        if problem:
            return None, problem
        result: object = None
        status: str | None = None
        if action.kind == "take_over":
            if not state.handed_off and state.active_run is not None:
                await self._signal_run(FlowRunWorkflow.hold)
            state.handed_off = state.taken_over = True
            status = "handed_off"
        elif action.kind == "send":
            try:
                result = await self._agent_send(action, key)
            except ActivityError as err:
                return None, f"the message could not be sent: {err.cause or err}"
        elif action.kind == "release":
            await self._release(action.release_mode)
            status = "active"
        elif action.kind == "close":
            if state.active_run is not None:
                await self._signal_run(FlowRunWorkflow.release, "end")
            state.handed_off = state.taken_over = False
            state.closing, status = True, "closed"
        if status is not None:
            workflow.upsert_search_attributes([STATUS.value_set(status)])
        if action.kind != "send":
            result = await workflow.execute_local_activity(
                RECORD_AGENT_ACTION,
                args=[state.conversation_id, action, status, key],
                result_type=str | None,
                summary=f"store the agent's {action.kind}",
                **LOCAL_DB,
            )
        return result, None

    async def _agent_send(self, action: AgentAction, key: str) -> str:
        request = SendRequest(
            conversation_id=self.state.conversation_id,
            channel_id=self.params.channel_id,
            channel_kind=self.params.channel_kind,
            contact_external_id=self.params.contact.external_id,
            message=OutboundMessage(kind="text", text=(action.text or "").strip()),
            idempotency_key=f"{workflow.info().workflow_id}/agent/{key}",
            sent_by_user_id=action.user_id,
        )
        summary = summaries.sent("agent", request.message, self.state.bot)
        sent = await workflow.execute_local_activity(
            SEND_MESSAGE, request, result_type=str | SentMessage, summary=summary, **AGENT_SEND
        )  # only the id in histories from before `SentMessage`
        return sent.message_id if isinstance(sent, SentMessage) else sent

    async def _proactive(self, start: FlowStart) -> FlowStartResult:
        state = self.state
        reason = None
        if start.key in self._recent:
            return FlowStartResult(started=True, conversation_id=state.conversation_id)
        if state.handed_off:
            reason = "an agent has this conversation"
        elif state.active_run is not None:
            reason = "the contact is already in a flow"
        else:
            self._recent.append(start.key)
            await self._reopen()
            await self._start_run(start.flow, None, start.variables)
        return FlowStartResult(
            started=reason is None, reason=reason, conversation_id=state.conversation_id
        )

    async def _reopen(self) -> None:
        """The contact wrote (or a flow starts) after an agent closed the conversation."""
        if self.state.closing:
            self.state.closing = False
            await self._set_status("active")

    def _delivery_key(self, message: InboundMessage) -> str | None:
        """The key storing this delivery of the message; None for a repeat seen lately.

        The decision holds on every retry of the workflow task: the recent ids are replayed,
        and the store reports a row written under this run's delivery key as new.
        """
        provider_id = message.provider_message_id
        if provider_id in self._recent:
            return None
        self._recent.append(provider_id)
        return f"{workflow.info().run_id}/{provider_id}"

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

    async def _record_and_route(self, message: InboundMessage) -> None:
        """Store the message once and route it; when no flow runs, the store also chooses the
        flow it starts, in the same local activity and transaction."""
        delivery_key = self._delivery_key(message)
        if delivery_key is None:
            return
        state = self.state
        choose = not state.handed_off and state.active_run is None
        recorded = await workflow.execute_local_activity(
            RECORD_AND_MATCH,
            args=[
                state.conversation_id,
                self.params.channel_id,
                message,
                delivery_key,
                self.params.bot_id if choose else None,
            ],
            result_type=InboundRecorded,
            summary=summaries.received(message, state.bot),
            **LOCAL_DB,
        )
        if not recorded.new:
            return
        await self._reopen()
        if not choose:
            await self._route(message)
        elif recorded.flow is not None:
            await self._start_run(recorded.flow, message)

    async def _route(self, message: InboundMessage) -> None:
        state = self.state
        if state.handed_off or state.closing:
            return
        if state.active_run is not None:
            await self._deliver(message)
            return
        snapshot = await workflow.execute_local_activity(
            MATCH_FLOW,
            args=[self.params.bot_id, message.answer_text()],
            result_type=FlowSnapshot | None,
            summary="choose the flow to start",
            **LOCAL_DB,
        )
        if snapshot is not None:
            await self._start_run(snapshot, message)

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
        state.run_count += 1
        run_input = FlowRunInput(
            conversation_workflow_id=workflow.info().workflow_id,
            conversation_id=state.conversation_id,
            bot_id=self.params.bot_id,
            channel_id=self.params.channel_id,
            channel_kind=self.params.channel_kind,
            contact_id=state.contact_id,
            contact=state.contact,
            flow=snapshot,
            trigger_message=trigger,
            inactivity_seconds=state.inactivity_seconds,
            bot=state.bot,
            variables=variables or {},
        )
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

    async def _set_status(self, status: str) -> None:
        workflow.upsert_search_attributes([STATUS.value_set(status)])
        await workflow.execute_local_activity(
            SET_CONVERSATION_STATUS,
            args=[self.state.conversation_id, status],
            summary=f"store the status: {status}",
            **LOCAL_DB,
        )

    def _describe(self, idle: timedelta | None) -> None:
        """The current details the Temporal UI shows: who has the conversation, and till when."""
        state = self.state
        if state.handed_off:
            details = "handed off to an agent"
        elif state.active_run is not None:
            details = f"in flow run {state.active_run}"
        else:
            until = summaries.moment(workflow.now() + idle) if idle else "never"
            details = f"waiting for the contact's next message (abandoned at {until})"
        bot = f"bot “{state.bot.name}”: " if state.bot.name else ""
        workflow.set_current_details(bot + details)

    def _continue_as_new(self) -> None:
        self.state.recent_message_ids = list(self._recent)
        self.state.events = list(self._events)
        workflow.continue_as_new(self.params.model_copy(update={"state": self.state}))
