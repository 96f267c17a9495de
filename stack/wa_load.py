"""A WhatsApp load driver: plays the contacts (signed Cloud API webhooks) and Meta's Graph API.

   contacts ──signed webhook POST──▶ the channel's webhook URL (the stack's real ingress)
   fake Graph API (127.0.0.1) ◀──POST /{version}/{phone_number_id}/messages── the worker

Each step of a conversation script is a webhook in the exact Cloud API shape, its raw body
signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`. The fake Graph
API stamps every reply, gives it to the contact it is addressed to, and answers like Meta. A
contact sends its next step once the step's expected replies arrived (or after the timeout,
counted as a timeout). Reply latency runs from the start of the webhook POST to the arrival of
the step's last expected reply. Ideas from `wa_driver.py` of the shared bench, kept small.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

now = time.monotonic


@dataclass(frozen=True)
class Step:
    """One inbound message: a text, or a press of the button `button_id` of the last menu."""

    text: str = ""
    button_id: str | None = None
    expect: int = 1
    match: tuple[str | None, ...] = ()  # regexes for the replies, in order (None: any)
    role: str = ""  # what the message does in the flow, for the figures by step


MENU = (
    Step("hola", expect=2, match=(None, r"(?i)nombre"), role="hola (starts a flow)"),
    Step("{name}", expect=2, match=("{name}", r"(?i)opci[oó]n"), role="name (an answer)"),
    Step(
        button_id="opt1",
        expect=1,
        match=(r"(?i)opci[oó]n 1",),
        role="button (an answer that ends the run)",
    ),
    Step("gracias", expect=1, match=(r"(?i)adi[oó]s",), role="gracias (starts and ends a flow)"),
)
ECHO = (Step("ping {wa_id}", expect=1, match=("^pong$",)),)


@dataclass
class Wait:
    """A step in flight: when it was sent and the replies it got."""

    expect: int
    started: float
    replies: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Contact:
    wa_id: str
    name: str
    wait: Wait | None = None
    last_menu_id: str | None = None  # the wamid of the bot's last interactive message


@dataclass
class Figures:
    """What one scenario measured."""

    sent: int = 0
    expected: int = 0
    replies: int = 0
    latencies_by_role: dict[str, list[float]] = field(default_factory=dict)
    webhook_ms: list[float] = field(default_factory=list)
    http_errors: int = 0
    timeouts: int = 0
    mismatches: int = 0
    duplicates: int = 0
    unsolicited: int = 0
    first_send: float = 0.0
    last_event: float = 0.0

    def window(self) -> float:
        return max(1e-9, self.last_event - self.first_send)

    def add_latency(self, milliseconds: float, role: str = "") -> None:
        """One reply latency, under the role of the step it answered."""
        self.latencies_by_role.setdefault(role, []).append(milliseconds)

    @property
    def latencies_ms(self) -> list[float]:
        """Every reply latency, whatever its step."""
        return [ms for latencies in self.latencies_by_role.values() for ms in latencies]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]


def reply_text(message: dict[str, Any]) -> str:
    """What the contact reads in an outbound Cloud API message (text, or a menu's texts)."""
    if message.get("type") == "text":
        return str((message.get("text") or {}).get("body", ""))
    interactive = message.get("interactive") or {}
    parts = [(interactive.get(key) or {}).get("text", "") for key in ("header", "body", "footer")]
    action = interactive.get("action") or {}
    parts += [(button.get("reply") or {}).get("title", "") for button in action.get("buttons", [])]
    for section in action.get("sections", []):
        parts += [row.get("title", "") for row in section.get("rows", [])]
    return "\n".join(part for part in parts if part)


def signature(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


class WhatsAppLoad:
    """The contacts and the fake Graph API of one bench run (reused across scenarios)."""

    def __init__(self, webhook_url: str, app_secret: str, phone_number_id: str) -> None:
        self.webhook_url, self.app_secret = webhook_url, app_secret
        self.phone_number_id = phone_number_id
        self.contacts: dict[str, Contact] = {}
        self.figures = Figures()
        self.ids = itertools.count(1)
        self.tag = f"{random.getrandbits(32):08x}"
        self.prefix = f"1555{random.randint(100, 999)}"
        self.timeout = 30.0

    # --- the fake Graph API -------------------------------------------------------------------

    async def start_graph(self, port: int) -> None:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self._graph_message)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        await self._http.close()
        await self._runner.cleanup()

    async def _graph_message(self, request: web.Request) -> web.Response:
        arrived = now()
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            error = {"message": "Invalid OAuth access token.", "type": "OAuthException"}
            return web.json_response({"error": {**error, "code": 190}}, status=401)
        body = await request.json()
        if body.get("status") == "read":  # mark as read
            return web.json_response({"success": True})
        wamid = f"wamid.{self.tag}{next(self.ids):010d}"
        contact = self.contacts.get(str(body.get("to", "")))
        if contact is not None:
            self._deliver(contact, arrived, body, wamid)
        to = str(body.get("to", ""))
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )

    def _deliver(self, contact: Contact, arrived: float, body: dict[str, Any], wamid: str) -> None:
        figures = self.figures
        figures.replies += 1
        figures.last_event = max(figures.last_event, arrived)
        if body.get("type") == "interactive":
            contact.last_menu_id = wamid
        wait = contact.wait
        if wait is None:
            figures.unsolicited += 1
            return
        if any(earlier == body for _, earlier in wait.replies):
            figures.duplicates += 1
        wait.replies.append((arrived, body))
        if len(wait.replies) >= wait.expect:
            wait.done.set()

    # --- the contacts -------------------------------------------------------------------------

    def contact(self, number: int) -> Contact:
        wa_id = f"{self.prefix}{number:07d}"
        contact = self.contacts.setdefault(wa_id, Contact(wa_id, f"User{number}"))
        return contact

    def _webhook(self, contact: Contact, step: Step) -> bytes:
        message: dict[str, Any] = {
            "from": contact.wa_id,
            "id": f"wamid.in{self.tag}{next(self.ids):010d}",
            "timestamp": str(int(time.time())),
        }
        if step.button_id is None:
            text = step.text.replace("{name}", contact.name).replace("{wa_id}", contact.wa_id)
            message.update(type="text", text={"body": text})
        else:
            reply = {"type": "button_reply", "button_reply": {"id": step.button_id, "title": ""}}
            message.update(type="interactive", interactive=reply)
            if contact.last_menu_id:
                message["context"] = {"from": "15550000000", "id": contact.last_menu_id}
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "15550000000",
                "phone_number_id": self.phone_number_id,
            },
            "contacts": [{"profile": {"name": contact.name}, "wa_id": contact.wa_id}],
            "messages": [message],
        }
        envelope = {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "200000000000002", "changes": [{"field": "messages", "value": value}]}
            ],
        }
        return json.dumps(envelope, separators=(",", ":")).encode()

    async def _post(self, raw: bytes, started: float) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(self.app_secret, raw),
        }
        try:
            async with self._http.post(self.webhook_url, data=raw, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    self.figures.http_errors += 1
                    return
            self.figures.webhook_ms.append((now() - started) * 1000)
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.figures.http_errors += 1

    async def step(self, contact: Contact, step: Step) -> None:
        """Send one step and wait for its replies; counts a timeout or a mismatch."""
        figures = self.figures
        raw = self._webhook(contact, step)
        wait = Wait(expect=step.expect, started=now())
        contact.wait = wait
        figures.first_send = figures.first_send or wait.started
        figures.sent += 1
        figures.expected += step.expect
        post = asyncio.create_task(self._post(raw, wait.started))
        try:
            await asyncio.wait_for(wait.done.wait(), self.timeout)
        except TimeoutError:
            figures.timeouts += 1
        await post
        contact.wait = None
        figures.last_event = max(figures.last_event, now())
        if not wait.done.is_set():
            return
        figures.add_latency((wait.replies[step.expect - 1][0] - wait.started) * 1000, step.role)
        for pattern, (_, reply) in zip(step.match, wait.replies, strict=False):
            wanted = pattern and pattern.replace("{name}", re.escape(contact.name))
            if wanted and not re.search(wanted, reply_text(reply)):
                figures.mismatches += 1
                break

    async def conversation(self, contact: Contact, script: tuple[Step, ...]) -> None:
        for step in script:
            await self.step(contact, step)

    # --- the scenarios ------------------------------------------------------------------------

    async def closed_loop(
        self, script: tuple[Step, ...], users: int, conversations: int
    ) -> Figures:
        """`users` contacts at once, each running `conversations` conversations back to back."""
        self.figures = Figures()

        async def user(number: int) -> None:
            contact = self.contact(number)
            for _ in range(conversations):
                await self.conversation(contact, script)

        await asyncio.gather(*(user(number) for number in range(users)))
        return self.figures

    async def open_loop(self, script: tuple[Step, ...], rate: float, duration: float) -> Figures:
        """A new contact every 1/`rate` seconds (scaled by the script's steps) for `duration`."""
        self.figures = Figures()
        interval = len(script) / rate
        begin, tasks = now(), []
        first = len(self.contacts) + 1_000_000
        for number in range(max(1, int(duration / interval))):
            await asyncio.sleep(max(0.0, begin + number * interval - now()))
            contact = self.contact(first + number)
            tasks.append(asyncio.create_task(self.conversation(contact, script)))
        await asyncio.gather(*tasks)
        return self.figures
