"""An in-memory `RunContext` for unit tests: scripted replies, HTTP/AI answers, recorded effects.

`FakeRunContext.run_flow` also interprets a whole flow graph with it, the way the real
flow-run workflow does, so templates can be exercised end to end without Temporal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from flowlang.expressions import evaluate, render
from flowlang.graph import FlowDefinition, FlowGraph
from flowlang.node_base import HandOffRequest, HttpRequest, HttpResponse, NodeFailed
from flowlang.nodes import get_node_type
from models.messages import InboundMessage, OutboundMessage
from models.payloads.ai import AiRequest, AiResponse
from models.payloads.integrations import IntegrationCall

Reply = str | InboundMessage | None  # None: the wait times out
HttpAnswer = HttpResponse | NodeFailed
AiAnswer = AiResponse | NodeFailed


@dataclass
class FakeRunContext:
    """Replies are consumed in order; running out of replies is a test error."""

    replies: Iterable[Reply] = ()
    http: Callable[[HttpRequest], HttpAnswer] | None = None
    ai: Callable[[AiRequest], AiAnswer] | None = None
    integrations: Callable[[str, IntegrationCall], BaseModel | NodeFailed] | None = None
    hand_off_result: str = "resume"
    contact: dict[str, Any] = field(default_factory=lambda: {"name": "Ana", "phone": "+34600"})
    node_id: str = "node"
    variables: dict[str, Any] = field(default_factory=dict)
    sent: list[OutboundMessage] = field(default_factory=list)
    waits: list[timedelta | None] = field(default_factory=list)
    sleeps: list[timedelta] = field(default_factory=list)
    requests: list[HttpRequest] = field(default_factory=list)
    hand_offs: list[HandOffRequest] = field(default_factory=list)
    ai_requests: list[AiRequest] = field(default_factory=list)
    integration_calls: list[tuple[str, IntegrationCall]] = field(default_factory=list)
    payment_outcome: str | None = "paid"  # what Stripe says; None: the wait times out
    payment_waits: list[tuple[str, timedelta]] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # external events sent

    def __post_init__(self) -> None:
        self._queue: deque[Reply] = deque(self.replies)
        self._counter = 0

    @property
    def texts(self) -> list[str]:
        """What the contact read, message by message, as a text-only channel shows it."""
        return [message.plain_text() for message in self.sent]

    def scope(self) -> dict[str, Any]:
        return {**self.variables, "contact": self.contact}

    def render(self, template: str) -> str:
        return render(template, self.scope())

    def evaluate(self, expression: str) -> Any:
        return evaluate(expression, self.scope())

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)

    async def wait_for_reply(self, timeout: timedelta | None) -> InboundMessage | None:
        self.waits.append(timeout)
        if not self._queue:
            raise AssertionError("the flow waited for a reply but the script has none left")
        reply = self._queue.popleft()
        if reply is None or isinstance(reply, InboundMessage):
            return reply
        self._counter += 1
        return InboundMessage(provider_message_id=f"in-{self._counter}", text=reply)

    async def sleep(self, duration: timedelta) -> None:
        self.sleeps.append(duration)

    async def wait_for_event(self, name: str, timeout: timedelta) -> dict[str, Any] | None:
        self.waits.append(timeout)
        return self.events.pop(name, None)

    async def http_request(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if self.http is None:
            raise AssertionError("the flow made an HTTP request but no responder is scripted")
        answer = self.http(request)
        if isinstance(answer, NodeFailed):
            raise answer
        return answer

    async def hand_off(self, request: HandOffRequest) -> str:
        self.hand_offs.append(request)
        return self.hand_off_result

    async def ai_completion(self, request: AiRequest) -> AiResponse:
        self.ai_requests.append(request)
        if self.ai is None:
            raise AssertionError("the flow asked the AI but no responder is scripted")
        answer = self.ai(request)
        if isinstance(answer, NodeFailed):
            raise answer
        return answer

    async def integration(
        self, activity: str, request: IntegrationCall, result_type: type[Any], failure: str
    ) -> Any:
        self.integration_calls.append((activity, request))
        if self.integrations is None:
            raise AssertionError(f"the flow called {activity} but no responder is scripted")
        answer = self.integrations(activity, request)
        if isinstance(answer, NodeFailed):
            raise NodeFailed(f"{failure}: {answer}")
        return answer

    async def wait_for_payment(self, payment_id: str, timeout: timedelta) -> str | None:
        self.payment_waits.append((payment_id, timeout))
        return self.payment_outcome

    async def run_node(self, node_type: str, data: dict[str, Any], node_id: str = "node") -> Any:
        """Run one node (its data parsed as the interpreter does); the handle it returns."""
        self.node_id = node_id
        kind = get_node_type(node_type)
        return await kind.run(self, kind.parse(data))

    async def run_flow(self, definition: FlowDefinition, max_steps: int = 100) -> None:
        """Interpret a whole flow from its start node until it ends."""
        graph = FlowGraph(definition)
        self.variables = {**definition.variables, **self.variables}
        node_id: str | None = graph.start_node_id()
        for _ in range(max_steps):
            if node_id is None:
                return
            node = graph.node(node_id)
            self.visited.append(node_id)
            handle = await self.run_node(node.type, node.data, node_id)
            node_id = None if handle is None else graph.next_node(node_id, handle, self.evaluate)
        raise AssertionError(f"the flow ran more than {max_steps} steps")
