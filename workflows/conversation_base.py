"""What both conversation workflows do alike (`Conversation`, whose flow runs are child
workflows, and `BotConversation`, which runs its flows itself): dedupe and store messages, route
them, agents' actions and proactive starts. Each says how it reaches its run."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.agent_actions import AgentAction, agent_action_problem
    from models.messages import InboundMessage, OutboundMessage
    from models.payloads.activity_names import (
        MATCH_FLOW,
        OPEN_AND_RECORD,
        OPEN_CONVERSATION,
        RECORD_AGENT_ACTION,
        RECORD_AND_MATCH,
        SEND_MESSAGE,
        SET_CONVERSATION_STATUS,
    )
    from models.payloads.engine import (
        ConversationRecord,
        FlowRunInput,
        FlowSnapshot,
        FlowStart,
        FlowStartResult,
        InboundRecorded,
        OpenedConversation,
        SendRequest,
        SentMessage,
    )
    from workflows import summaries
    from workflows.search_attributes import STATUS

LOCAL_DB = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
RECENT_IDS_KEPT = 500
AGENT_SEND = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(maximum_attempts=5),
}
Outcome = tuple[object, str | None]  # (result, refusal)


def conversation_workflow_id(bot_id: str, channel_id: str, contact_external_id: str) -> str:
    """The deterministic id of a contact's conversation with a bot on a channel."""
    return f"conversation-{bot_id}-{channel_id}-{contact_external_id}"


class ConversationBase:
    """A contact's conversation: `params` and `state` are the workflow's input and carried state."""

    params: Any
    state: Any
    _recent: deque[str]
    _events: deque[Any]

    def __init__(self) -> None:
        self._outcomes: dict[str, Outcome] = {}
        self._opening: tuple[str, InboundRecorded] | None = None  # the first message, recorded

    async def _open(
        self, params: Any, state_type: type[Any], first: InboundMessage | None = None
    ) -> None:
        """Take up `params`: the state carried across continue-as-new (with its queued events),
        or, in a conversation's first workflow run, the state of the conversation it opens
        (with `first`, its first message, recorded and its flow chosen in the same write)."""
        self.params = params
        carried = [] if params.state is None else params.state.recent_message_ids
        self._recent = deque(carried, maxlen=RECENT_IDS_KEPT)
        if params.state is None:
            if first is None:
                record = await workflow.execute_local_activity(
                    OPEN_CONVERSATION,
                    params,
                    result_type=ConversationRecord,
                    summary="open the conversation",
                    **LOCAL_DB,
                )
            else:
                opened = await workflow.execute_local_activity(
                    OPEN_AND_RECORD,
                    args=[params, first, self._delivery_key(first)],
                    result_type=OpenedConversation,
                    summary=f"open the conversation and store inbound {first.kind}",
                    **LOCAL_DB,
                )
                record = opened.conversation
                self._opening = (first.provider_message_id, opened.first)
            self.state = state_type(
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

    # --- how the workflow reaches its flow run --------------------------------------------------

    def _has_run(self) -> bool:
        raise NotImplementedError

    async def _hold_run(self) -> None:
        raise NotImplementedError

    async def _release_run(self, mode: str) -> None:
        raise NotImplementedError

    async def _deliver(self, message: InboundMessage) -> None:
        raise NotImplementedError

    def _answer_unstored(self, message: InboundMessage, delivery_key: str) -> bool:
        """Hand the message to a run waiting for it, for the run's next write to store; False
        when it must be stored first (the default)."""
        return False

    async def _start_run(
        self,
        snapshot: FlowSnapshot,
        trigger: InboundMessage | None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------------

    async def _await_outcome(self, key: str) -> object:
        """The outcome of the update `key` once its event is handled; raises its refusal."""
        await workflow.wait_condition(lambda: key in self._outcomes)
        result, refusal = self._outcomes.pop(key)
        if refusal is not None:
            raise ApplicationError(refusal, type="ActionRefused", non_retryable=True)
        return result

    async def _release(self, mode: str) -> None:
        """Give the conversation back to the bot; the held or handed-off run resumes or ends."""
        state = self.state
        state.handed_off = state.taken_over = False
        if self._has_run():
            await self._release_run(mode)

    async def _agent(self, action: AgentAction, key: str) -> Outcome:
        """Do an agent's action; `(stored id or None, refusal or None)`."""
        state = self.state
        problem = agent_action_problem(action, state.handed_off)
        if problem:
            return None, problem
        result: object = None
        status: str | None = None
        if action.kind == "take_over":
            if not state.handed_off and self._has_run():
                await self._hold_run()
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
            if self._has_run():
                await self._release_run("end")
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
        elif self._has_run():
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

    async def _record_and_route(self, message: InboundMessage) -> None:
        """Store the message once and route it; when no flow runs, the store also chooses the
        flow it starts, in the same local activity and transaction (for a new conversation's
        first message, the one that opened it). A run waiting for the message may take it at
        once and store it with its next write."""
        state = self.state
        choose = not state.handed_off and not self._has_run()
        if self._opening is not None and self._opening[0] == message.provider_message_id:
            recorded, self._opening = self._opening[1], None
        else:
            delivery_key = self._delivery_key(message)
            if delivery_key is None or self._answer_unstored(message, delivery_key):
                return
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
        if self._has_run():
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

    def _run_input(
        self, snapshot: FlowSnapshot, trigger: InboundMessage | None, variables: dict[str, Any]
    ) -> FlowRunInput:
        """What the next flow run of the conversation starts from (counting it)."""
        state = self.state
        state.run_count += 1
        return FlowRunInput(
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
            variables=variables,
        )

    async def _set_status(self, status: str) -> None:
        workflow.upsert_search_attributes([STATUS.value_set(status)])
        await self._store_status(status)

    async def _store_status(self, status: str) -> None:
        await workflow.execute_local_activity(
            SET_CONVERSATION_STATUS,
            args=[self.state.conversation_id, status],
            summary=f"store the status: {status}",
            **LOCAL_DB,
        )

    def _describe(self, idle: timedelta | None, run: str | None) -> None:
        """The current details the Temporal UI shows: who has the conversation, and till when."""
        state = self.state
        if state.handed_off:
            details = "handed off to an agent"
        elif run is not None:
            details = f"in flow run {run}"
        else:
            until = summaries.moment(workflow.now() + idle) if idle else "never"
            details = f"waiting for the contact's next message (abandoned at {until})"
        bot = f"bot “{state.bot.name}”: " if state.bot.name else ""
        workflow.set_current_details(bot + details)
