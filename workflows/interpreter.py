"""`FlowInterpreter`: the RunContext that node modules run against, shared by the `FlowRun`
workflow (one workflow per run) and the `BotConversation` workflow (the run inside it)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from flowlang import expressions
    from flowlang.graph import FlowGraph
    from flowlang.node_base import HandOffRequest, HttpRequest, HttpResponse, NodeFailed
    from flowlang.nodes import get_node_type
    from models.messages import InboundMessage, OutboundMessage
    from models.payloads.activity_names import (
        AI_COMPLETION,
        BEGIN_FLOW_RUN,
        FINISH_FLOW_RUN,
        HTTP_REQUEST,
        RECORD_STEPS,
        SEND_MESSAGE,
    )
    from models.payloads.ai import AiRequest, AiResponse, AiUsage
    from models.payloads.engine import (
        ExternalEvent,
        FlowRunInput,
        FlowRunState,
        RunEnd,
        RunStart,
        RunStatus,
        SendRequest,
        SentMessage,
        StepRecord,
        UnstoredInbound,
    )
    from models.payloads.integrations import (
        PERMANENT_INTEGRATION_ERROR,
        IntegrationCall,
        PaymentOutcome,
    )
    from workflows import summaries
    from workflows.search_attributes import (
        FLOW_ID,
        FLOW_NAME,
        FLOW_VERSION,
        STATUS,
        conversation_attributes,
    )
    from workflows.silence import SilenceTimer

LOCAL_DB = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
)
MAX_STEPS_PER_RUN = 10_000
# workflow.patched id: the steps run since the last write go with the next send, in its
# transaction, instead of a local activity of their own before the run waits
STEPS_WITH_SENDS = "steps-stored-with-sends"
# workflow.patched id: writes that ride with another instead of a local activity each: a run's
# row goes with its first write (its id from the workflow), its end carries the steps not stored
# yet (this implies the above), and a new conversation's first message is stored as it opens
COMBINED_WRITES = "combined-writes"
# workflow.patched id (a `BotConversation`'s; implies the above): writes folded into others. A
# contact's answer to the question a run waits on goes to the run at once and the run's next
# write stores it, instead of a local activity of its own; a new conversation whose first
# message starts a flow sets its search attributes with the run's, not in an upsert of its own
FOLDED_WRITES = "folded-writes"
# An answer the provider dates this long before the question was sent is stored before the run
# takes it (the store decides whether it is a late repeat of a message seen before)
STALE_ANSWER = timedelta(minutes=1)
ResultT = TypeVar("ResultT")
OutputT = TypeVar("OutputT", bound=BaseModel)


# The revision of the engine a `BotConversation` run began on, carried in its input (0: begun
# before revisions, its paths chosen by the patches above). A run begun on revision 1 takes the
# paths of every patch above without asking (no marker and no `TemporalChangeVersion` upsert per
# run) and keeps the contact's silence with one timer (`workflows/silence.py`). On revision 2,
# a run whose last node only sends (`NodeType.only_sends`, no edge out) stores its end with that
# send's result instead of in a local activity of its own.
REVISION = 2


def begun_on(revision: int) -> bool:
    """Whether this workflow run began on engine revision `revision` or later (a `FlowRun` or
    `Conversation`, on none)."""
    return getattr(workflow.instance(), "revision", 0) >= revision


def folded_writes() -> bool:
    """Whether this workflow run folds writes (`FOLDED_WRITES`)."""
    return begun_on(1) or workflow.patched(FOLDED_WRITES)


def combined_writes() -> bool:
    """Whether this workflow run combines writes (`COMBINED_WRITES`); runs begun since record
    only the later `FOLDED_WRITES`, which implies it: one patch marker per run (none since
    revision 1)."""
    return folded_writes() or workflow.patched(COMBINED_WRITES)


class RunAbandoned(Exception):
    """The contact stopped answering for longer than the bot's inactivity time."""


class RunEnded(Exception):
    """An agent ended the run (releasing or closing the conversation with `end`)."""


class FlowInterpreter:
    """Walks a pinned flow graph node by node; each node's module decides what happens and which
    edge follows. The hosting workflow says how the run is addressed (`address`), how it
    continues as new, and how a hand-off is announced."""

    def __init__(self) -> None:
        self._replies: deque[InboundMessage] = deque()
        self._received = 0
        self._unrecorded: list[StepRecord] = []
        self._unstored: list[UnstoredInbound] = []  # answers taken, stored by the next write
        self._start: RunStart | None = None  # the run's row, until its first write stores it
        self._start_summary = ""  # how that write's summary begins
        self._release_mode: str | None = None
        self._held = False
        self._node_id: str | None = None
        self._node_type = ""
        self._waiting = False
        self._sends_in_step = 0
        self._step_output: dict[str, Any] | None = None
        self._step_started: datetime | None = None
        self._closing: str | None = None  # the step's outcome when its send ends the run
        self._closed = False  # that send stored the step and the run's end
        self._settled: dict[str, str] = {}  # payment id -> status, as Stripe reported it
        self._asked_at: datetime | None = None
        self.variables: dict[str, Any] = {}
        self._events: dict[str, Any] = {}
        self.silence: SilenceTimer | None = None  # a `BotConversation`'s, since revision 1

    # --- what the hosting workflow provides ----------------------------------------------------

    def address(self) -> str:
        """How the world reaches this run: `flow_runs.workflow_id`, the prefix of its keys."""
        raise NotImplementedError

    def _continue_as_new(self, node_id: str) -> None:
        """Carry the run on in a new workflow run, from `node_id` (raises)."""
        raise NotImplementedError

    async def _announce_hand_off(self) -> None:
        """Tell the conversation an agent now has it."""
        raise NotImplementedError

    def _sets_aside_unseen(self) -> bool:
        """Whether messages written before the last send are not answers (always, but for runs
        recorded before that rule)."""
        return True

    # --- what reaches the run from outside -----------------------------------------------------

    def add_external_event(self, event: ExternalEvent) -> None:
        """An event from outside for a `waitEvent` node (kept until one waits for it)."""
        self._events[event.name] = event.data

    def add_reply(self, message: InboundMessage, unstored: UnstoredInbound | None = None) -> None:
        """A contact message for this run, queued until it asks for a reply; `unstored`: the
        run's next write stores it (it waits for this reply: `takes_unstored`)."""
        self._replies.append(message)
        self._received += 1
        if unstored is not None:
            self._unstored.append(unstored)

    def takes_unstored(self, message: InboundMessage) -> bool:
        """Whether the run waits for a reply, so `message` may reach it before it is stored:
        not while an agent holds or ends it, nor when the provider dates the message well
        before the question (a late repeat is for the store to recognise)."""
        if not self._waiting or self._held or self._release_mode == "end":
            return False
        if message.timestamp is None or self._asked_at is None:
            return True
        return datetime.fromisoformat(message.timestamp) >= self._asked_at - STALE_ANSWER

    def release_run(self, mode: str) -> None:
        """An agent released the hand-off or take-over: `resume` the flow or `end` it."""
        self._release_mode = mode
        self._held = False

    def hold_run(self) -> None:
        """An agent took the conversation over: pause before the next node until released."""
        self._held = True
        self._release_mode = None

    def settle_payment(self, outcome: PaymentOutcome) -> None:
        """Stripe reported a payment of this run as paid, failed or expired (webhook)."""
        self._settled[outcome.payment_id] = outcome.status

    @property
    def node_id(self) -> str:
        """The node being run (part of the RunContext nodes see)."""
        return self._node_id or ""

    def where(self) -> dict[str, Any]:
        """The current node, whether it waits for the contact, and the variables."""
        return {"node_id": self._node_id, "waiting": self._waiting, "variables": self.variables}

    # --- the walk ------------------------------------------------------------------------------

    async def begin(
        self, params: FlowRunInput, graph: FlowGraph, summary: str = "store the run's start"
    ) -> FlowRunState:
        """Store the run's start; its first position."""
        variables: dict[str, Any] = {**graph.definition.variables, **params.variables}
        if params.trigger_message is not None:
            variables["last_reply"] = params.trigger_message.answer_text()
        if combined_writes():
            run_id, self._start_summary = str(workflow.uuid4()), summary
            self._start = RunStart(
                run_id=run_id,
                conversation_id=params.conversation_id,
                flow_id=params.flow.flow_id,
                version_id=params.flow.version_id,
                workflow_id=self.address(),
                variables=dict(variables),
            )
        else:  # the run began before the patch: its start was a local activity of its own
            run_id = await workflow.execute_local_activity(
                BEGIN_FLOW_RUN,
                args=[
                    params.conversation_id,
                    params.flow.flow_id,
                    params.flow.version_id,
                    self.address(),
                    variables,
                ],
                result_type=str,
                summary=summary,
                **LOCAL_DB,
            )
        return FlowRunState(
            run_id=run_id, node_id=graph.start_node_id(), variables=variables, step_sequence=0
        )

    def resume(self, params: FlowRunInput, state: FlowRunState) -> None:
        """Take up the run at `state` (its start, or where it continued as new)."""
        self.params = params
        self.variables = state.variables
        self._replies.extendleft(reversed(state.replies))
        self._events.update(state.events)
        self._received += state.received
        self._asked_at = datetime.fromisoformat(state.asked_at) if state.asked_at else None
        self.run_id = state.run_id
        self.sequence = state.step_sequence

    async def walk(self, graph: FlowGraph, node_id: str | None) -> tuple[RunStatus, str | None]:
        """Run nodes from `node_id` until the flow ends; its status and error."""
        try:
            while node_id is not None:
                if self.sequence >= MAX_STEPS_PER_RUN:
                    raise NodeFailed(f"the run exceeded {MAX_STEPS_PER_RUN} steps")
                if workflow.info().is_continue_as_new_suggested():
                    await self._flush_steps()
                    self._continue_as_new(node_id)
                if await self._paused():
                    raise RunEnded()
                node_id = await self._step(graph, node_id)
        except RunAbandoned:
            return "abandoned", None
        except RunEnded:
            return "cancelled", None
        except NodeFailed as err:
            return "failed", str(err)
        return "completed", None

    async def finish(self, status: RunStatus, error: str | None) -> None:
        """Store the last steps and the run's end (in one write since `COMBINED_WRITES`; with the
        last send since revision 2, when the last node only sent)."""
        if self._closed:
            workflow.set_current_details(summaries.ended(status, error, self.params.bot))
            return
        end = RunEnd(run_id=self.run_id, status=status, variables=self.variables, error=error)
        if combined_writes():
            end.steps, self._unrecorded = self._unrecorded, []
            end.start, self._start = self._start, None
            end.inbound, self._unstored = self._unstored, []
        else:
            await self._flush_steps()
        workflow.set_current_details(summaries.ended(status, error, self.params.bot))
        summary = self._with_start(end.start, end.inbound, f"store the run's end: {status}")
        await workflow.execute_local_activity(FINISH_FLOW_RUN, end, summary=summary, **LOCAL_DB)

    def position(self, node_id: str) -> FlowRunState:
        """What carries the run across a continue-as-new, resuming at `node_id`."""
        return FlowRunState(
            run_id=self.run_id,
            node_id=node_id,
            variables=self.variables,
            step_sequence=self.sequence,
            replies=list(self._replies),
            received=self._received,
            events=self._events,
            asked_at=self._asked_at.isoformat() if self._asked_at else None,
        )

    def unconsumed(self) -> list[InboundMessage]:
        """The messages queued for the run that it never read."""
        return list(self._replies)

    async def _step(self, graph: FlowGraph, node_id: str) -> str | None:
        """Run one node, record it, and return the next node id (None ends the run)."""
        node = graph.node(node_id)
        node_type = get_node_type(node.type)
        try:
            data = node_type.parse(node.data)
        except ValidationError as err:  # published before a check this code makes (RE2 syntax)
            raise NodeFailed(f"node {node_id!r} cannot run: {err.errors()[0]['msg']}") from err
        self._node_id, self._node_type = node_id, node.type
        workflow.set_current_details(f"at node {self._label()}")
        self.sequence += 1
        self._sends_in_step = 0
        started = self._step_started = workflow.now()
        self._closing = node_type.only_sends if self._last_write(graph, node_id) else None
        outcome: str | None
        try:
            outcome = await node_type.run(self, data)
        except NodeFailed as err:
            await self._record(node.id, node.type, "error", started, {"message": str(err)})
            raise
        if self._closed:  # its send stored this step and the run's end
            return None
        await self._record(node.id, node.type, outcome or "end", started, None)
        if outcome is None:
            return None
        try:
            return graph.next_node(node.id, outcome, self.evaluate)
        except expressions.ExpressionError as err:
            raise NodeFailed(f"an edge condition after {node.id!r} cannot run: {err}") from err

    def _last_write(self, graph: FlowGraph, node_id: str) -> bool:
        """Whether the run ends after this node (unless it fails): no edge leaves it. Since
        revision 2 the send of such a node that only sends stores the run's end."""
        return begun_on(2) and not graph.outgoing.get(node_id)

    async def _record(
        self, node_id: str, node_type: str, outcome: str, started: Any, error: dict | None
    ) -> None:
        step = StepRecord(
            run_id=self.run_id,
            sequence=self.sequence,
            node_id=node_id,
            node_type=node_type,
            outcome=outcome,
            started_at=started.isoformat(),
            ended_at=workflow.now().isoformat(),
            error=error,
            output=self._step_output,
        )
        self._step_output = None
        self._unrecorded.append(step)

    async def _flush_steps(self) -> None:
        """Store the steps run since the last flush (and the run's row, when not stored yet),
        in one write; called before anything that waits or calls out, so the database shows
        where a run stands whenever it is not busy."""
        if self._unrecorded or self._start is not None or self._unstored:
            steps, self._unrecorded = self._unrecorded, []
            start, self._start = self._start, None
            inbound, self._unstored = self._unstored, []
            stored = summaries.steps_stored(steps) if steps else ""
            await workflow.execute_local_activity(
                RECORD_STEPS,
                args=[steps, start, inbound],
                summary=self._with_start(start, inbound, stored),
                **LOCAL_DB,
            )

    def _with_start(
        self, start: RunStart | None, inbound: list[UnstoredInbound], summary: str
    ) -> str:
        """A write's summary, after the run's start and the answers it stores too."""
        before = [self._start_summary] if start is not None else []
        before += [summaries.received(answer.message, self.params.bot) for answer in inbound]
        return ", then ".join([*before, summary] if summary else before)

    def _label(self) -> str:
        return summaries.node_label(self.node_id, self._node_type)

    # --- RunContext: what node modules may do -------------------------------------------------

    def scope(self) -> dict[str, Any]:
        return {**self.variables, "contact": self.params.contact, "variables": self.variables}

    def render(self, template: str) -> str:
        return expressions.render(template, self.scope())

    def evaluate(self, expression: str) -> Any:
        return expressions.evaluate(expression, self.scope())

    async def send(self, message: OutboundMessage) -> None:
        steps: list[StepRecord] = []
        start, self._start = self._start, None  # only set since COMBINED_WRITES
        inbound, self._unstored = self._unstored, []  # only set since FOLDED_WRITES
        if self._unrecorded and (  # marked once per run
            combined_writes() or workflow.patched(STEPS_WITH_SENDS)
        ):
            steps, self._unrecorded = self._unrecorded, []
        end = self._end_with() if self._sends_in_step == 0 else None
        request = SendRequest(
            conversation_id=self.params.conversation_id,
            channel_id=self.params.channel_id,
            channel_kind=self.params.channel_kind,
            contact_external_id=self.params.contact["external_id"],
            message=message,
            idempotency_key=f"{self.address()}/{self.sequence}.{self._sends_in_step}",
            steps=steps,
            start=start,
            inbound=inbound,
            end=end,
        )
        self._sends_in_step += 1
        sent_summary = summaries.sent(self._label(), message, self.params.bot)
        if end is not None:
            sent_summary += ", then store the run's end: completed"
        summary = self._with_start(start, inbound, sent_summary)
        try:
            sent = await workflow.execute_local_activity(
                SEND_MESSAGE,
                request,
                result_type=str | SentMessage,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=SEND_RETRY,
                summary=summary,
            )
        except (ActivityError, ApplicationError) as err:  # a local activity may fail bare
            self._unrecorded[:0] = steps  # stored again (once) with the run's next write
            self._start = start
            self._unstored[:0] = inbound
            raise NodeFailed(f"the message could not be sent: {failure_reason(err)}") from err
        self._closed = end is not None
        # When the contact could first see it: a retried workflow task runs later, but the
        # send it repeats was stored (and made) before. Old histories hold only the id.
        self._asked_at = (
            datetime.fromisoformat(sent.stored_at)
            if isinstance(sent, SentMessage)
            else workflow.now()
        )

    def _end_with(self) -> RunEnd | None:
        """The run's end for the send of a last node that only sends: its own step, ended by
        the send when the provider takes the message."""
        if self._closing is None or self._step_started is None:
            return None
        started = self._step_started.isoformat()
        step = StepRecord(
            run_id=self.run_id,
            sequence=self.sequence,
            node_id=self._node_id or "",
            node_type=self._node_type,
            outcome=self._closing,
            started_at=started,
            ended_at=started,
        )
        return RunEnd(
            run_id=self.run_id, status="completed", variables=self.variables, steps=[step]
        )

    async def wait_for_reply(self, timeout: timedelta | None) -> InboundMessage | None:
        """The contact's next message (queued by the conversation, oldest first)."""
        limit = timeout or timedelta(seconds=self.params.inactivity_seconds)
        await self._flush_steps()
        if self._sets_aside_unseen():
            self._set_aside_unseen()
        self._waiting = True
        try:
            while True:  # a take-over pauses the wait; the timeout starts again after it
                details = summaries.waiting(self._label(), workflow.now(), limit)
                workflow.set_current_details(details)
                await self._wait_for_answer(limit)
                if await self._paused():
                    raise RunEnded()
                if self._replies:
                    break
        except TimeoutError:
            if timeout is None:
                raise RunAbandoned() from None
            return None
        finally:
            self._waiting = False
        reply = self._replies.popleft()
        self.variables["last_reply"] = reply.answer_text()
        return reply

    async def _wait_for_answer(self, limit: timedelta) -> None:
        """Until a reply, a take-over or an end; `TimeoutError` after `limit` of silence."""

        def answered() -> bool:
            return bool(self._replies) or self._held or self._release_mode == "end"

        if self.silence is not None:
            await self.silence.wait(answered, limit)
            return
        await workflow.wait_condition(
            answered, timeout=limit, timeout_summary=summaries.reply_timeout(self._label(), limit)
        )

    async def wait_for_event(self, name: str, timeout: timedelta) -> dict[str, Any] | None:
        """The data of the external event `name`; None when `timeout` passed first."""
        await self._flush_steps()
        try:
            await workflow.wait_condition(lambda: name in self._events, timeout=timeout)
        except TimeoutError:
            return None
        return self._events.pop(name)

    def _set_aside_unseen(self) -> None:
        """Drop the queued messages that arrived before the run last sent something: the
        contact wrote them without having seen what is now being asked. They stay stored and
        visible in the inbox; they are simply not answers."""
        asked_at = self._asked_at
        if asked_at is None:
            return
        self._replies = deque(
            reply
            for reply in self._replies
            if reply.received_at is None or datetime.fromisoformat(reply.received_at) >= asked_at
        )

    async def _paused(self) -> bool:
        """Wait while an agent holds the run; True when the agent ended it."""
        if self._held:
            await self._flush_steps()
            since = summaries.moment(workflow.now())
            label = self._label()
            workflow.set_current_details(f"paused at node {label}: an agent took over at {since}")
            await workflow.wait_condition(lambda: not self._held)
        return self._release_mode == "end"

    async def sleep(self, duration: timedelta) -> None:
        await self._flush_steps()
        until = summaries.moment(workflow.now() + duration)
        workflow.set_current_details(f"at node {self._label()}: waiting until {until}")
        await workflow.sleep(duration, summary=summaries.sleeping(self._label(), duration))

    async def http_request(self, request: HttpRequest) -> HttpResponse:
        return await self._with_retries(
            HTTP_REQUEST,
            request,
            HttpResponse,
            request.timeout_seconds,
            request.retries,
            permanent_error="PermanentHttpError",
            failure=f"HTTP {request.method} {request.url} failed",
            summary=summaries.http_call(self._label(), request.method, request.url),
        )

    async def ai_completion(self, request: AiRequest) -> AiResponse:
        """A completion; the step records its model and the tokens of all its completions."""
        answer = await self._with_retries(
            AI_COMPLETION,
            request,
            AiResponse,
            request.timeout_seconds,
            request.retries,
            permanent_error="PermanentAiError",
            failure="the AI completion failed",
            summary=summaries.ai_call(self._label(), request.model),
        )
        spent = AiUsage.model_validate((self._step_output or {}).get("usage") or {})
        usage = spent.plus(answer.usage).model_dump()
        self._step_output = {"model": answer.model, "usage": usage}
        return answer

    async def integration(
        self, activity: str, request: IntegrationCall, result_type: type[OutputT], failure: str
    ) -> OutputT:
        """An integration activity for this bot, keyed by run and step; its result is recorded
        as the step's output."""
        run = self.address()
        call = request.model_copy(
            update={
                "bot_id": self.params.bot_id,
                "contact_id": self.params.contact_id,
                "flow_run_id": self.run_id,
                "run_workflow_id": run,
                "idempotency_key": f"{run}/{self.sequence}",
            }
        )
        result = await self._with_retries(
            activity,
            call,
            result_type,
            request.timeout_seconds,
            request.retries,
            permanent_error=PERMANENT_INTEGRATION_ERROR,
            failure=failure,
            summary=f"{self._label()}: {activity.replace('_', ' ')}",
        )
        self._step_output = result.model_dump(mode="json")
        return result

    async def wait_for_payment(self, payment_id: str, timeout: timedelta) -> str | None:
        """The payment's status once Stripe reports it settled; None when `timeout` passed."""
        await self._flush_steps()
        since = summaries.moment(workflow.now())
        workflow.set_current_details(f"at node {self._label()}: waiting for payment since {since}")
        try:
            await workflow.wait_condition(
                lambda: payment_id in self._settled,
                timeout=timeout,
                timeout_summary=f"{self._label()}: no payment after {summaries.duration(timeout)}",
            )
        except TimeoutError:
            return None
        return self._settled.pop(payment_id)

    async def _with_retries(
        self,
        activity: str,
        arg: Any,
        result_type: type[ResultT],
        timeout_seconds: float,
        retries: int,
        *,
        permanent_error: str,
        failure: str,
        summary: str,
    ) -> ResultT:
        """An activity retried `retries` times (backing off from 1 s to 30 s) unless its error
        is `permanent_error`; raises `NodeFailed` (`failure: reason`) when it finally fails."""
        await self._flush_steps()
        try:
            return await workflow.execute_activity(
                activity,
                arg,
                result_type=result_type,
                summary=summary,
                start_to_close_timeout=timedelta(seconds=timeout_seconds + 5),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=max(1, retries + 1),
                    non_retryable_error_types=[permanent_error],
                ),
            )
        except ActivityError as err:
            raise NodeFailed(f"{failure}: {failure_reason(err)}") from err

    async def hand_off(self, request: HandOffRequest) -> str:
        self._release_mode = None
        await self._flush_steps()
        workflow.upsert_search_attributes([STATUS.value_set("handed_off")])
        since = summaries.moment(workflow.now())
        workflow.set_current_details(f"at node {self._label()}: handed off to an agent at {since}")
        await self._announce_hand_off()
        await workflow.wait_condition(lambda: self._release_mode is not None)
        self._replies.clear()  # what the contact told the agent is not an answer to the flow
        workflow.upsert_search_attributes([STATUS.value_set("running")])
        return self._release_mode or "end"


def failure_reason(error: FailureError) -> str:
    """What went wrong, without the activity wrapper's boilerplate."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return cause.message if isinstance(cause, FailureError) else str(error)


def flow_run_search_attributes(params: FlowRunInput) -> list[Any]:
    """Search attributes of a new flow run."""
    address, flow = params.contact["external_id"], params.flow
    conversation = conversation_attributes(
        params.bot_id,
        params.bot.name,
        params.channel_kind,
        address,
        params.contact_id,
        params.conversation_id,
    )
    return [
        *conversation,
        FLOW_ID.value_set(flow.flow_id),
        FLOW_NAME.value_set(flow.name),
        FLOW_VERSION.value_set(flow.version),
        STATUS.value_set("running"),
    ]
