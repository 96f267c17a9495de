"""The `api` node: an HTTP call with templated method, URL, headers and body.

The seeds' fields are `apiUrl`, `apiMethod`, `apiHeaders`, `apiBody` and `retryAttempts`;
`timeoutSeconds` bounds each attempt. The call runs as an activity with retries.

What the flow sees, under `responseVariable` (default `api`)::

    {"status": 200, "response": <body: decoded JSON, else text>, "error": null}

so `{{api.response.items.0.name}}` reads the body. `mappings` `{variable: path}` copy values
out of the body into variables, e.g. `{"first": "items.0.name"}`. The node leaves by `error`
when the call finally fails (`status` null, `error` says why) or answers with a status of 400
or more (mappings are not applied); with no `error` edge the run ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from flowlang.expressions import check_templates_in, parse_path, render_data, resolve, to_text
from flowlang.node_base import (
    DEFAULT,
    ERROR,
    HttpRequest,
    NodeData,
    NodeFailed,
    NodeType,
    RunContext,
    Template,
    VariableName,
    expression_checked,
    never,
    no_handles,
)

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
TemplatedJson = Annotated[Any, AfterValidator(expression_checked(check_templates_in))]
ResponsePath = Annotated[str, AfterValidator(expression_checked(parse_path))]


class HttpCallData(NodeData):
    """What `api` and `webhook` share: where the response goes, and the retries."""

    response_variable: VariableName = "api"
    mappings: dict[VariableName, ResponsePath] = Field(default_factory=dict)
    retry_attempts: int = Field(default=3, ge=0, le=10)


class ApiData(HttpCallData):
    api_url: Template = Field(min_length=1)
    api_method: Template = "GET"
    api_headers: dict[str, Template] = Field(default_factory=dict)
    api_body: TemplatedJson = None
    timeout_seconds: float = Field(default=10, gt=0, le=300)


def build_request(
    ctx: RunContext,
    data: HttpCallData,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any,
    timeout_seconds: float,
) -> HttpRequest:
    """The request with every template filled in; a JSON body for dicts and lists."""
    rendered_body = render_data(body, ctx.scope())
    is_json = isinstance(rendered_body, dict | list)
    return HttpRequest(
        method=ctx.render(method).strip().upper(),
        url=ctx.render(url).strip(),
        headers={key: ctx.render(value) for key, value in headers.items()},
        json_body=rendered_body if is_json else None,
        body=None if is_json or rendered_body is None else to_text(rendered_body),
        timeout_seconds=timeout_seconds,
        retries=data.retry_attempts,
    )


async def call(ctx: RunContext, data: HttpCallData, request: HttpRequest) -> str:
    """Make the call, store the response, apply the mappings; the handle to leave by."""
    if request.method not in HTTP_METHODS:
        return _failed(ctx, data, f"unsupported HTTP method {request.method!r}")
    if not request.url.startswith(("http://", "https://")):
        return _failed(ctx, data, f"not an http(s) URL: {request.url!r}")
    try:
        response = await ctx.http_request(request)
    except NodeFailed as failure:
        return _failed(ctx, data, str(failure))
    ok = response.status < 400
    ctx.variables[data.response_variable] = {
        "status": response.status,
        "response": response.body,
        "error": None if ok else f"HTTP {response.status}",
    }
    if not ok:
        return ERROR
    for variable, path in data.mappings.items():
        ctx.variables[variable] = resolve(response.body, parse_path(path))
    return DEFAULT


def _failed(ctx: RunContext, data: HttpCallData, reason: str) -> str:
    ctx.variables[data.response_variable] = {"status": None, "response": None, "error": reason}
    return ERROR


async def run(ctx: RunContext, data: ApiData) -> str:
    request = build_request(
        ctx,
        data,
        method=data.api_method,
        url=data.api_url,
        headers=data.api_headers,
        body=data.api_body,
        timeout_seconds=data.timeout_seconds,
    )
    return await call(ctx, data, request)


def http_node(
    type_name: str,
    data_model: type[HttpCallData],
    runner: Callable[[RunContext, Any], Awaitable[str | None]],
) -> NodeType:
    """An HTTP-calling node type: leaves by `default`, or by `error` when the call fails."""
    return NodeType(
        type=type_name,
        data_model=data_model,
        handles=lambda _: [DEFAULT, ERROR],
        required_handles=no_handles,
        waits=never,
        run=runner,
    )


API = http_node("api", ApiData, run)
