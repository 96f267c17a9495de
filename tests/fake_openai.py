"""A fake OpenAI API on 127.0.0.1: `POST /v1/chat/completions` with the real JSON shapes.

It checks the bearer key (401 `invalid_api_key` otherwise) and the request's `model` and
`messages` (400 otherwise), and answers `[<model>] <last user message>` with token usage
counted in words. Tests script failures per model: `fake.fail_next("m", "rate_limit")` makes
the next request for model `m` answer OpenAI's 429, the one after succeeds; `"filtered"` is
an answer without text (finish reason `content_filter`). `fake.script("m", *answers)` makes
the next answers for `m` a given text (`"..."`) or a tool call (`{"tool": name, "arguments":
{...}}`); like the real API it refuses (400) an assistant's tool calls that no `tool` message
answers, and tools that are not functions.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_KEY = "sk-test-botbuilder"

# name: (status, error type, error code, message), as OpenAI words them
ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "rate_limit": (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    "insufficient_quota": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "server_error": (
        500,
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    "overloaded": (503, "server_error", None, "The engine is currently overloaded."),
    "invalid_api_key": (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    "context_length": (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 16385 tokens.",
    ),
}


class FakeOpenAI:
    """Start with `start()`; `url` is the base URL to give the client (ends in `/v1`)."""

    def __init__(self, api_key: str = FAKE_KEY) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []  # every well-formed request body, in order
        self._failures: defaultdict[str, deque[str]] = defaultdict(deque)
        self._scripts: defaultdict[str, deque[str | dict[str, Any]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> FakeOpenAI:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, model: str, *errors: str) -> None:
        """The next requests for `model` answer these errors (names of `ERRORS`), in order."""
        with self._lock:
            self._failures[model].extend(errors)

    def script(self, model: str, *answers: str | dict[str, Any]) -> None:
        """The next successful answers for `model`: texts, or `{"tool", "arguments"}` calls."""
        with self._lock:
            self._scripts[model].extend(answers)

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        with self._lock:
            return [request for request in self.requests if request["model"] == model]

    def answer(self, authorization: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        """The status and JSON the real API would give."""
        if authorization != f"Bearer {self.api_key}":
            return _error("invalid_api_key")
        if not isinstance(body, dict) or not body.get("model"):
            return 400, _error_body(
                "invalid_request_error", None, "you must provide a model parameter"
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, _error_body("invalid_request_error", None, "[] is too short - 'messages'")
        problem = _tool_problem(body)
        if problem:
            return 400, _error_body("invalid_request_error", None, problem)
        with self._lock:
            self.requests.append(body)
            failures = self._failures[body["model"]]
            failure = failures.popleft() if failures else None
            scripted = self._scripts[body["model"]]
            answer = scripted.popleft() if scripted and not failure else None
        if failure == "filtered":
            return 200, _completion(body["model"], messages, filtered=True)
        if failure:
            return _error(failure)
        return 200, _completion(body["model"], messages, answer=answer)


def _tool_problem(body: dict[str, Any]) -> str | None:
    """What the real API would refuse about tools and tool calls, if anything."""
    if any(tool.get("type") != "function" for tool in body.get("tools") or []):
        return "tools: only function tools are supported"
    pending: set[str] = set()
    for message in body["messages"]:
        if message.get("role") == "tool":
            pending.discard(message.get("tool_call_id"))
        elif pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'."
            )
        if message.get("role") == "assistant":
            pending = {call["id"] for call in message.get("tool_calls") or []}
    return None


def _error(name: str) -> tuple[int, dict[str, Any]]:
    status, kind, code, message = ERRORS[name]
    return status, _error_body(kind, code, message)


def _error_body(kind: str, code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _completion(
    model: str,
    messages: list[dict[str, Any]],
    filtered: bool = False,
    answer: str | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A successful answer: the scripted one, else the echo of the last user message;
    `filtered`: no text, stopped by the content filter."""
    question = next(m["content"] for m in reversed(messages) if m.get("role") == "user")
    content = None if filtered else f"[{model}] {question}"
    calls = None
    if isinstance(answer, str):
        content = answer
    elif answer is not None:
        content = None
        calls = [
            {
                "id": f"call_{len(messages)}",
                "type": "function",
                "function": {"name": answer["tool"], "arguments": json.dumps(answer["arguments"])},
            }
        ]
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    completion_tokens = len(content.split()) if content else 10 if calls else 0
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    **({"tool_calls": calls} if calls else {}),
                },
                "logprobs": None,
                "finish_reason": "content_filter"
                if filtered
                else "tool_calls"
                if calls
                else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": None,
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/chat/completions":
            message = f"Invalid URL (POST {self.path})"
            self._reply(404, _error_body("invalid_request_error", None, message))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self._reply(*fake.answer(self.headers.get("Authorization"), body))

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None
