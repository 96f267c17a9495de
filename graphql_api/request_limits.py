"""Request bodies are bounded before any handler reads them.

`BodyLimit` refuses a body over its path's limit with 413: at once when `Content-Length` says so,
else as soon as the bytes received pass the limit (a chunked body is counted as it streams, so
an oversized one is never held whole). A body within the limit is kept and handed to the
handler. GraphQL JSON bodies must moreover be a JSON object (400 otherwise: `null`, a number, a
string, or nesting too deep to parse). A body that fails FastAPI's validation gets its 422
without the offending input echoed back.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_MESSAGE_BYTES = 64 * 1024  # a 4,096-character message, JSON-escaped, fits many times
MULTIPART_OVERHEAD = 64 * 1024


def path_limits(max_body_bytes: int, max_upload_bytes: int) -> Callable[[str], int]:
    """The largest body each path accepts: web-channel posts, import files, everything else."""

    def limit(path: str) -> int:
        if path.startswith("/channels/web/"):
            return WEB_MESSAGE_BYTES
        if path.startswith("/api/"):
            return max_upload_bytes + MULTIPART_OVERHEAD
        return max_body_bytes

    return limit


def refusal(path: str, status: int, code: str, message: str) -> JSONResponse:
    """In the shape the path's clients read: `{"error": ...}` for files, else `{"detail"}`."""
    if path.startswith("/api/"):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    return JSONResponse({"detail": message}, status_code=status)


def graphql_json_problem(body: bytes) -> str | None:
    """Why a GraphQL JSON body cannot be a request, or None when it is a JSON object."""
    try:
        document = json.loads(body)
    except RecursionError:
        return "the JSON body is nested too deeply"
    except ValueError as err:
        return f"the body is not valid JSON ({err})"
    if not isinstance(document, dict):
        return 'the JSON body must be an object like {"query": "..."}'
    return None


class BodyLimit:
    """ASGI middleware applying `limit_for(path)` to every request body."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limit_for(path)
        message = f"the request body is larger than the limit of {limit} bytes"
        too_large = refusal(path, 413, "PAYLOAD_TOO_LARGE", message)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0").decode("latin-1")
        if not length.isdigit():
            await refusal(path, 400, "BAD_USER_INPUT", "invalid Content-Length")(
                scope, receive, send
            )
            return
        if int(length) > limit:
            await too_large(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if path == "/graphql" and content_type.startswith("application/json"):
            if problem := graphql_json_problem(body):
                await refusal(path, 400, "BAD_USER_INPUT", problem)(scope, receive, send)
                return
        await self.app(scope, replay(body, receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the kept body once, then what the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive_again() -> Message:
        return pending.pop() if pending else await receive()

    return receive_again


async def invalid_request_response(_request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 for a request that fails validation, without echoing the input back
    (which may not even be encodable, such as a lone surrogate)."""
    assert isinstance(error, RequestValidationError)
    problems = [{k: v for k, v in problem.items() if k != "input"} for problem in error.errors()]
    return JSONResponse({"detail": jsonable_encoder(problems)}, status_code=422)
