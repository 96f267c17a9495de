"""What every node type is made of, and the context the interpreter runs nodes in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from flowlang.expressions import (
    ExpressionError,
    check_regex,
    check_template,
    compile_expression,
    parse_path,
)
from models.messages import InboundMessage, OutboundMessage
from models.payloads.ai import AiRequest, AiResponse
from models.payloads.integrations import IntegrationCall

DEFAULT = "default"
TIMEOUT = "timeout"
INVALID = "invalid"
ERROR = "error"
OutputT = TypeVar("OutputT", bound=BaseModel)


class NodeFailed(Exception):
    """A side effect failed for good (after its retries); the node leaves by `error`."""


class HttpRequest(BaseModel):
    """An HTTP call made by an activity; `json_body` wins over `body` when both are set."""

    method: str = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = None
    body: str | None = None
    timeout_seconds: float = 10.0
    retries: int = 3


class HttpResponse(BaseModel):
    """The answer to an `HttpRequest`; `body` is the decoded JSON when it parses, else text."""

    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None


class HandOffRequest(BaseModel):
    """Hand the conversation to a person; the bot stays silent until they release it."""

    transfer_to: str | None = None
    transfer_type: Literal["agent", "bot", "department"] = "agent"
    message: str | None = None
    on_release: Literal["resume", "end"] = "resume"


class RunContext(Protocol):
    """What a node may do; implemented by the flow-run interpreter (and by a fake in tests)."""

    node_id: str  # the id of the node being run
    variables: dict[str, Any]  # flow variables, mutable; also holds "last_reply"

    def scope(self) -> dict[str, Any]:
        """Variables + contact + API responses, as seen by templates and conditions."""
        ...

    def render(self, template: str) -> str: ...

    def evaluate(self, expression: str) -> Any: ...

    async def send(self, message: OutboundMessage) -> None:
        """Durable send through the conversation's channel."""
        ...

    async def wait_for_reply(self, timeout: timedelta | None) -> InboundMessage | None:
        """The contact's next message; None when `timeout` passed first."""
        ...

    async def sleep(self, duration: timedelta) -> None:
        """A durable timer."""
        ...

    async def wait_for_event(self, name: str, timeout: timedelta) -> dict[str, Any] | None:
        """The data of the external event `name` (sent to the run); None after `timeout`."""
        ...

    async def http_request(self, request: HttpRequest) -> HttpResponse:
        """An activity with retries; raises `NodeFailed` when it finally fails."""
        ...

    async def hand_off(self, request: HandOffRequest) -> str:
        """Wait until an agent releases the conversation; returns "resume" or "end"."""
        ...

    async def ai_completion(self, request: AiRequest) -> AiResponse:
        """An activity with retries; raises `NodeFailed` when it finally fails."""
        ...

    async def integration(
        self, activity: str, request: IntegrationCall, result_type: type[OutputT], failure: str
    ) -> OutputT:
        """An integration activity (email, SMS ...) with the organization's credentials and
        retries; raises `NodeFailed` (`failure: reason`) when it finally fails."""
        ...

    async def wait_for_payment(self, payment_id: str, timeout: timedelta) -> str | None:
        """A durable wait for Stripe's word on the payment (`paid`, `failed`, `expired`); None
        when `timeout` passed first."""
        ...


def only_default(_: Any) -> list[str]:
    return [DEFAULT]


def no_handles(_: Any) -> list[str]:
    return []


def never(_: Any) -> bool:
    return False


def always(_: Any) -> bool:
    return True


@dataclass(frozen=True)
class NodeType:
    """A node type: its `data` model, how it runs, its outgoing handles, whether it waits.

    The defaults describe a node that goes straight on along its default edge without waiting.
    """

    type: str
    data_model: type[BaseModel]
    run: Callable[[RunContext, Any], Awaitable[str | None]]  # the handle to follow; None ends
    handles: Callable[[Any], list[str]] = only_default  # every handle the node can leave by
    required_handles: Callable[[Any], list[str]] = no_handles  # must be wired (see validation)
    waits: Callable[[Any], bool] = never  # does running it always wait (reply, timer, hand-off)?
    # A node whose whole run is at most one send: the outcome it then records. With no edge out,
    # that send is the run's last write, and stores the run's end with its result.
    only_sends: str | None = None

    def parse(self, data: dict[str, Any]) -> Any:
        """The node's `data` as this type's model (raises pydantic's `ValidationError`)."""
        return self.data_model.model_validate(data)


class NodeData(BaseModel):
    """Base of every node's `data`: snake_case fields with camelCase aliases, extras kept."""

    model_config = ConfigDict(
        extra="allow", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )


def expression_checked(check: Callable[[str], object]) -> Callable[[str], str]:
    """A pydantic validator running `check`, reporting its failure as `invalid_expression`."""

    def validate(text: str) -> str:
        try:
            check(text)
        except ExpressionError as error:
            raise PydanticCustomError(
                "invalid_expression", "{reason}", {"reason": str(error)}
            ) from None
        return text

    return validate


def _check_variable_name(name: str) -> None:
    if len(parse_path(name)) != 1:
        raise ExpressionError(f"variable name {name!r} must be a single name, without dots")


Template = Annotated[str, AfterValidator(expression_checked(check_template))]
Expression = Annotated[str, AfterValidator(expression_checked(compile_expression))]
RegexPattern = Annotated[str, AfterValidator(expression_checked(check_regex))]
VariableName = Annotated[str, AfterValidator(expression_checked(_check_variable_name))]


def render_optional(ctx: RunContext, template: str | None) -> str | None:
    """The rendered template, or None when there is none."""
    return ctx.render(template) if template else None
