"""`BotConversationWorkflow`: one per (bot, channel, contact); orders, dedupes and routes the
contact's messages and runs their flows itself, so a message costs one workflow task.

Each flow run is its own workflow run of the conversation: a flow that starts in a run that has
already hosted one continues as new first (carrying the conversation and the flow to start), so
every run's search attributes (`FlowId`, `FlowName`, `Status` ...) describe one flow run. The run
is an asyncio task beside the conversation's loop: a message for it is appended to its reply
queue, a take-over or release sets its flags, its end routes what it left unread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from flowlang.graph import FlowDefinition, FlowGraph
    from models.agent_actions import AgentAction, agent_action_problem
    from models.messages import InboundMessage
    from models.payloads.engine import (
        AgentEvent,
        BotConversationInput,
        BotConversationState,
        BotEvent,
        FlowRunInput,
        FlowSnapshot,
        FlowStart,
        FlowStartResult,
        HostedFlow,
        InboundEvent,
        ReleaseEvent,
        RunExternalEvent,
        RunPaymentSettled,
        StartFlowEvent,
        UnstoredInbound,
    )
    from workflows import summaries
    from workflows.conversation_base import ConversationBase
    from workflows.interpreter import (
        REVISION,
        FlowInterpreter,
        begun_on,
        combined_writes,
        flow_run_search_attributes,
        folded_writes,
    )
    from workflows.search_attributes import STATUS, conversation_attributes, upsert_changed
    from workflows.silence import SilenceTimer


def run_address(workflow_id: str, run_id: str) -> str:
    """The `flow_runs.workflow_id` of a flow run hosted by a `BotConversation`: the
    conversation's workflow id and the workflow run the flow began in."""
    return f"{workflow_id}@{run_id}"


class RunSuspended(Exception):
    """The run's history is long: it stops before `node_id` to continue as new."""

    def __init__(self, node_id: str) -> None:
        super().__init__(node_id)
        self.node_id = node_id


class HostedRun(FlowInterpreter):
    """A flow run inside its conversation's workflow."""

    def __init__(
        self,
        address: str,
        on_hand_off: Callable[[], Awaitable[None]],
        silence: SilenceTimer | None,
    ) -> None:
        super().__init__()
        self.silence = silence
        self._address = address
        self._on_hand_off = on_hand_off
        self.suspended_at: str | None = None
        self.task: asyncio.Task[None] | None = None

    def address(self) -> str:
        return self._address

    def _continue_as_new(self, node_id: str) -> None:
        raise RunSuspended(node_id)

    async def _announce_hand_off(self) -> None:
        await self._on_hand_off()

    async def drive(self, graph: FlowGraph, node_id: str | None) -> None:
        """Walk the flow to its end (or its suspension) and store that end."""
        try:
            status, error = await self.walk(graph, node_id)
        except RunSuspended as suspended:
            self.suspended_at = suspended.node_id
            return
        await self.finish(status, error)
        workflow.upsert_search_attributes([STATUS.value_set(status)])

    def done(self) -> bool:
        return self.task is not None and self.task.done()

    def carried(self) -> HostedFlow:
        """The run as the next workflow run takes it up (it suspended before a node)."""
        assert self.suspended_at is not None
        return HostedFlow(
            input=self.params,
            address=self._address,
            position=self.position(self.suspended_at),
            held=self._held,
            release_mode=self._release_mode,  # type: ignore[arg-type]
        )


@workflow.defn(name="BotConversation")
class BotConversationWorkflow(ConversationBase):
    """Handles a contact's messages strictly in arrival order and runs the flows they start."""

    def __init__(self) -> None:
        super().__init__()
        self._events: deque[BotEvent] = deque()
        self._run: HostedRun | None = None
        self._next: HostedFlow | None = None  # a flow to take up in the next workflow run
        self._hosted = False  # whether this workflow run has hosted a flow
        self._early: list[RunExternalEvent | RunPaymentSettled] = []
        self._started = False
        self.revision = 0  # the engine revision this workflow run began on (`begun_on`)
        self._silence = SilenceTimer()  # since revision 1

    @workflow.signal
    def inbound(self, message: InboundMessage) -> None:
        """A message from the contact (delivered by channel ingress with signal-with-start)."""
        self._events.append(InboundEvent(message=message))

    @workflow.signal
    def release(self, mode: str) -> None:
        """An agent gives the conversation back to the bot: `resume` or `end` the flow."""
        if mode not in ("resume", "end"):
            raise ApplicationError(f"release mode must be 'resume' or 'end', not {mode!r}")
        self._events.append(ReleaseEvent(mode=mode))  # type: ignore[arg-type]

    @workflow.signal
    def external_event(self, event: RunExternalEvent) -> None:
        """An event from outside for the `waitEvent` node of the named run (ignored when that
        run is no longer the active one)."""
        self._for_run(event)

    @workflow.signal
    def payment_settled(self, settled: RunPaymentSettled) -> None:
        """Stripe reported a payment of the named run as settled (ignored when that run is no
        longer the active one)."""
        self._for_run(settled)

    @workflow.update
    async def agent_action(self, action: AgentAction) -> str | None:
        """An agent's action, done in order with the contact's messages; returns the id of the
        stored message (`send`) or note (`note`)."""
        key = self._update_key()
        self._events.append(AgentEvent(action=action, update_id=key))
        result = await self._await_outcome(key)
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
        key = self._update_key()
        self._events.append(StartFlowEvent(start=start, update_id=key))
        result = await self._await_outcome(key)
        assert isinstance(result, FlowStartResult)
        return result

    @workflow.query
    def status(self) -> dict[str, object]:
        """The active run, whether an agent has the conversation, and what is queued."""
        return {
            "active_run": self._run.address() if self._run is not None else None,
            "handed_off": self.state.handed_off,
            "taken_over": self.state.taken_over,
            "pending_events": len(self._events),
        }

    @workflow.query
    def position(self, run_workflow_id: str) -> dict[str, Any] | None:
        """The named run's current node, whether it waits for the contact, and its variables;
        None when it is not the active run."""
        run = self._run
        if run is None or run.address() != run_workflow_id:
            return None
        return run.where()

    @workflow.run
    async def run(self, params: BotConversationInput) -> str:
        self.revision = params.revision
        await self._open(params, BotConversationState, self._first_message(params))
        carried, self.state.flow, self.state.events = self.state.flow, None, []
        self._started = True
        if carried is None:
            if not self._opening_starts_run():
                workflow.upsert_search_attributes(self._conversation_attributes())
        else:
            await self._take_up(carried)
        self._early.clear()  # for a run that is no longer the active one
        return await self._loop()

    def _first_message(self, params: BotConversationInput) -> InboundMessage | None:
        """A new conversation's first message (signal-with-start queued it before the run
        began), to store as the conversation opens (since `COMBINED_WRITES`)."""
        if params.state is not None or not self._events:
            return None
        first = self._events[0]
        if not isinstance(first, InboundEvent) or not combined_writes():
            return None
        return first.message

    def _opening_starts_run(self) -> bool:
        """Whether the first message of this new conversation starts a flow right away, which
        sets the conversation's search attributes with its own (since `FOLDED_WRITES`)."""
        opening = self._opening
        if opening is None or not opening[1].new or opening[1].flow is None:
            return False
        return folded_writes()

    async def _loop(self) -> str:
        state = self.state
        while True:
            closed = state.closing and self._run is None and self._next is None
            idle = self._run is None and self._next is None
            if (
                closed
                or self._next is not None
                or (idle and workflow.info().is_continue_as_new_suggested())
            ):
                # updates answer first; a message arriving meanwhile is handled, not dropped
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or bool(self._events)
                )
                if not self._events:
                    if closed:
                        return "closed"
                    self._continue_as_new()
            elif not await self._wait(idle):
                await self._set_status("abandoned")
                return "abandoned"
            if self._run is not None and self._run.done():
                await self._end_run()
            while self._events:
                await self._handle(self._events.popleft())

    async def _wait(self, idle: bool) -> bool:
        """Wait for an event or the run's end; False when the contact has been silent for the
        inactivity time (with no run)."""
        limit = timedelta(seconds=self.state.inactivity_seconds) if idle else None
        if limit is not None:
            self._describe(limit, None)
        if limit is not None and begun_on(1):
            try:
                await self._silence.wait(lambda: bool(self._events), limit)
            except TimeoutError:
                return False
            return True
        try:
            await workflow.wait_condition(
                lambda: bool(self._events) or (self._run is not None and self._run.done()),
                timeout=limit,
                timeout_summary=f"no message for {summaries.duration(limit)}: abandoned"
                if limit
                else None,
            )
        except TimeoutError:
            return False
        return True

    async def _handle(self, event: BotEvent) -> None:
        if isinstance(event, InboundEvent):
            await self._record_and_route(event.message)
        elif isinstance(event, ReleaseEvent):
            if self.state.handed_off:
                await self._set_status("active")
                await self._release(event.mode)
        elif isinstance(event, AgentEvent):
            self._outcomes[event.update_id] = await self._agent(event.action, event.update_id)
        else:
            self._outcomes[event.update_id] = (await self._proactive(event.start), None)

    # --- the hosted run -------------------------------------------------------------------------

    def _has_run(self) -> bool:
        return self._run is not None or self._next is not None

    async def _hold_run(self) -> None:
        if self._run is not None:
            self._run.hold_run()
        elif self._next is not None:
            self._next.held, self._next.release_mode = True, None

    async def _release_run(self, mode: str) -> None:
        if self._run is not None:
            self._run.release_run(mode)
        elif self._next is not None:
            self._next.held, self._next.release_mode = False, mode  # type: ignore[assignment]

    async def _deliver(self, message: InboundMessage) -> None:
        if self._run is not None:
            self._run.add_reply(message)
        elif self._next is not None:
            self._next.replies.append(message)

    def _answer_unstored(self, message: InboundMessage, delivery_key: str) -> bool:
        """The run waits for this reply: it takes it now, and its next write (a send, or the
        steps it stores before it waits again, or its end) stores it, in that write's
        transaction: one local activity fewer per answer (since `FOLDED_WRITES`)."""
        run, state = self._run, self.state
        if run is None or state.handed_off or state.closing or not run.takes_unstored(message):
            return False
        if not folded_writes():
            return False
        unstored = UnstoredInbound(
            conversation_id=state.conversation_id,
            channel_id=self.params.channel_id,
            channel_kind=self.params.channel_kind,
            message=message,
            delivery_key=delivery_key,
        )
        run.add_reply(message, unstored)
        return True

    async def _start_run(
        self,
        snapshot: FlowSnapshot,
        trigger: InboundMessage | None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        """Begin the flow here when this workflow run has hosted none yet; else continue as
        new first (the loop does, once the updates waiting have their answers)."""
        hosted = HostedFlow(input=self._run_input(snapshot, trigger, variables or {}))
        if self._hosted:
            self._next = hosted
        else:
            await self._take_up(hosted)

    async def _take_up(self, hosted: HostedFlow) -> None:
        """Begin (or resume) the flow run in this workflow run; its search attributes say so."""
        info = workflow.info()
        params = hosted.input
        address = hosted.address or run_address(info.workflow_id, info.run_id)
        run = HostedRun(address, self._handed_off, self._silence if begun_on(1) else None)
        if hosted.held:
            run.hold_run()
        if hosted.release_mode is not None:
            run.release_run(hosted.release_mode)
        graph = FlowGraph(FlowDefinition.model_validate(params.flow.definition))
        upsert_changed(self._run_attributes(params))  # none when the workflow run began with them
        self._run, self._hosted = run, True
        position = hosted.position
        if position is None:
            position = await run.begin(params, graph, f"start {summaries.run_summary(params)}")
            position.replies = hosted.replies
        run.resume(params, position)
        early, self._early = self._early, []
        for signal in early:
            self._for_run(signal)
        run.task = asyncio.create_task(run.drive(graph, position.node_id))

    async def _end_run(self) -> None:
        """The run has ended (or suspended): what it left unread is routed again."""
        run, self._run = self._run, None
        assert run is not None and run.task is not None
        run.task.result()  # a bug in the run fails the workflow task, as it would the run's
        if run.suspended_at is not None:
            self._next = run.carried()
            return
        state = self.state
        if state.handed_off and not state.taken_over:
            state.handed_off = False
            await self._store_status("active")
        for message in run.unconsumed():
            await self._route(message)

    async def _handed_off(self) -> None:
        """The run's transfer node handed the conversation to an agent."""
        self.state.handed_off = True
        await self._store_status("handed_off")

    def _for_run(self, signal: RunExternalEvent | RunPaymentSettled) -> None:
        if not self._started:
            self._early.append(signal)  # the run is taken up once the workflow has started
            return
        run = self._run
        if run is None or run.address() != signal.run_workflow_id:
            workflow.logger.info("a signal for run %s, not the active one", signal.run_workflow_id)
            return
        if isinstance(signal, RunExternalEvent):
            run.add_external_event(signal.event)
        else:
            run.settle_payment(signal.outcome)

    def _update_key(self) -> str:
        return workflow.current_update_info().id  # type: ignore[union-attr]

    def _run_attributes(self, params: FlowRunInput) -> list[Any]:
        """What finds the flow run (and its conversation), and its status."""
        attributes = flow_run_search_attributes(params)
        if self.state.handed_off:  # an agent took the conversation over before it began
            attributes = [*attributes[:-1], STATUS.value_set("handed_off")]  # not `running`
        return attributes

    def _conversation_attributes(self) -> list[Any]:
        """What finds the conversation, and its status (a flow run adds its own)."""
        params, state = self.params, self.state
        status = "handed_off" if state.handed_off else "active"
        found_by = conversation_attributes(
            params.bot_id,
            state.bot.name,
            params.channel_kind,
            params.contact.external_id,
            state.contact_id,
            state.conversation_id,
        )
        return [*found_by, STATUS.value_set(status)]

    def _continue_as_new(self) -> None:
        """The next workflow run starts with the attributes of the flow run it takes up, or the
        conversation's only (not those of the flow run this one hosted)."""
        self.state.recent_message_ids = list(self._recent)
        self.state.events = list(self._events)
        self.state.flow = self._next
        attributes = (
            self._conversation_attributes()
            if self._next is None
            else self._run_attributes(self._next.input)
        )
        workflow.continue_as_new(
            self.params.model_copy(update={"state": self.state, "revision": REVISION}),
            search_attributes=TypedSearchAttributes(attributes),
        )
