"""`FlowRunWorkflow`: one pinned flow version for one contact, as its own workflow (the shape
conversations started before `BotConversation` still use; see `workflows/bot_conversation.py`)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from flowlang.graph import FlowDefinition, FlowGraph
    from models.messages import InboundMessage
    from models.payloads.engine import ExternalEvent, FlowRunInput, RunFinished
    from models.payloads.integrations import PaymentOutcome
    from workflows.interpreter import FlowInterpreter

UNSEEN_ARE_NOT_ANSWERS = "unseen-questions-are-not-answered"  # workflow.patched id


@workflow.defn(name="FlowRun")
class FlowRunWorkflow(FlowInterpreter):
    """Runs a flow as a child of its `Conversation`, which it reaches by signals."""

    @workflow.signal
    def external_event(self, event: ExternalEvent) -> None:
        """An event from outside for a `waitEvent` node (kept until one waits for it)."""
        self.add_external_event(event)

    @workflow.signal
    def deliver(self, message: InboundMessage) -> None:
        """A contact message for this run (sent by the conversation when the run awaits one)."""
        self.add_reply(message)

    @workflow.signal
    def release(self, mode: str) -> None:
        """An agent released the hand-off or take-over: `resume` the flow or `end` it."""
        self.release_run(mode)

    @workflow.signal
    def hold(self) -> None:
        """An agent took the conversation over: pause before the next node until released."""
        self.hold_run()

    @workflow.signal
    def payment_settled(self, outcome: PaymentOutcome) -> None:
        """Stripe reported a payment of this run as paid, failed or expired (webhook)."""
        self.settle_payment(outcome)

    @workflow.query
    def position(self) -> dict[str, Any]:
        """The current node, whether it waits for the contact, and the variables."""
        return self.where()

    @workflow.run
    async def run(self, params: FlowRunInput) -> RunFinished:
        self.params = params
        graph = FlowGraph(FlowDefinition.model_validate(params.flow.definition))
        state = params.state or await self.begin(params, graph)
        self.resume(params, state)
        status, error = await self.walk(graph, state.node_id)
        await self.finish(status, error)
        finished = RunFinished(
            run_workflow_id=workflow.info().workflow_id,
            status=status,
            unconsumed=self.unconsumed(),
            received=self._received,
        )
        await self._tell_conversation("run_finished", finished)
        return finished

    def address(self) -> str:
        return workflow.info().workflow_id

    def _continue_as_new(self, node_id: str) -> None:
        state = self.position(node_id)
        workflow.continue_as_new(self.params.model_copy(update={"state": state}))

    async def _announce_hand_off(self) -> None:
        await self._tell_conversation("run_handed_off", workflow.info().workflow_id)

    def _sets_aside_unseen(self) -> bool:
        return workflow.patched(UNSEEN_ARE_NOT_ANSWERS)

    async def _tell_conversation(self, signal: str, arg: Any) -> None:
        handle = workflow.get_external_workflow_handle(self.params.conversation_workflow_id)
        await handle.signal(signal, arg)
