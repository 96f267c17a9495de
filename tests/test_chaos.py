"""Chaos under load: WhatsApp contacts talk through signed webhooks while the worker is
`kill -9`ed, or the Temporal server is stopped; afterwards every accepted message is answered
and Meta received each stored outbound message once.

Bounded (about a minute each) and marked `chaos`, so `pytest -m chaos` runs them alone.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.conversation_tables import Message
from models.db import make_session_factory
from models.settings import Settings
from stack.ports import free_port
from stack.temporal_server import start_dev_server
from tests import fake_meta
from tests.channel_chat import WhatsAppUser, make_whatsapp_bot
from tests.fake_meta import FakeMeta
from tests.helpers import api_client, chain, node, wait_for
from tests.test_durability import start_worker

pytestmark = pytest.mark.chaos

TASK_QUEUE = "botbuilder-chaos"
ROUNDS = 2  # conversations per contact, each three messages and four replies
STEP_TIMEOUT = 75.0  # a reply may wait for a worker restart plus a workflow-task timeout
PROVIDER_CALL_SECONDS = 5.0  # how long after Meta got a send, on a loaded machine, its answer
# may still be on its way back to the worker (measured: about 0.2 s)


def survey() -> dict[str, object]:
    return chain(
        node("name", "question", content="¿Cómo te llamas?", variable="name"),
        node("hi", "message", content="Hola {{name}}"),
        node("color", "question", content="¿Color favorito?", variable="color"),
        node("done", "message", content="Tu color: {{color}}"),
    )


@dataclass
class Contact:
    """A WhatsApp user: writes through signed webhooks (retrying what the bot refuses, as Meta
    does) and waits for each reply it expects, in order."""

    user: WhatsAppUser
    accepted: set[str] = field(default_factory=set)
    refused: int = 0
    seen: int = 0  # how many of the messages Meta got for this user were already read
    steps_done: int = 0

    async def say(self, text: str) -> None:
        message = fake_meta.message(self.user.wa_id, "text", {"body": text})
        payload = fake_meta.webhook(
            self.user.phone_number_id, messages=[message], names={self.user.wa_id: self.user.name}
        )
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                response = await self.user.post(payload)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                self.accepted.add(message["id"])
                return
            assert response is None or response.status_code == 503, response.text
            self.refused += 1
            assert time.monotonic() < deadline, f"{self.user.wa_id}: {text!r} never accepted"
            await asyncio.sleep(0.5)  # Meta's retry interval (shortened), not a wait on state

    async def expect(self, text: str) -> None:
        async def arrived() -> bool:
            texts = [m["text"]["body"] for m in self.user.received()]
            if text not in texts[self.seen :]:
                return False
            self.seen += texts[self.seen :].index(text) + 1
            return True

        await wait_for(arrived, timeout=STEP_TIMEOUT, what=f"{self.user.wa_id} to get {text!r}")
        self.steps_done += 1

    async def converse(self) -> None:
        for turn in range(ROUNDS):
            name, color = f"N{self.user.wa_id[-3:]}r{turn}", f"c{self.user.wa_id[-3:]}r{turn}"
            await self.say("hola")
            await self.expect("¿Cómo te llamas?")
            await self.say(name)
            await self.expect(f"Hola {name}")
            await self.expect("¿Color favorito?")
            await self.say(color)
            await self.expect(f"Tu color: {color}")


async def talk(contacts: list[Contact]) -> None:
    """Run every contact's conversations; fail naming the contacts left waiting."""
    results = await asyncio.gather(*(c.converse() for c in contacts), return_exceptions=True)
    stuck = [f"{c.user.wa_id}: {r}" for c, r in zip(contacts, results, strict=True) if r]
    assert not stuck, "accepted messages left unanswered:\n" + "\n".join(stuck)


async def check_sent_once(
    db_engine: AsyncEngine, meta: FakeMeta, contacts: list[Contact], kills: list[float]
) -> list[str]:
    """Every inbound stored once and every outbound `sent`, with Meta holding each once.

    Returns the duplicates, each explained by a kill that landed during its provider call
    (the one case the send rule allows); any other duplicate fails."""

    async def settled() -> list[Row] | None:
        """The messages once no send is still between Meta's answer and its record."""
        async with make_session_factory(db_engine)() as session:
            rows = (
                await session.execute(
                    select(Message.direction, Message.status, Message.provider_message_id)
                )
            ).all()
        return list(rows) if all(row.status != "sending" for row in rows) else None

    rows = await wait_for(settled, timeout=30, what="the last sends to be recorded")
    inbound = {row.provider_message_id for row in rows if row.direction == "inbound"}
    outbound = [row for row in rows if row.direction == "outbound"]
    assert inbound == set().union(*(c.accepted for c in contacts))
    assert len(outbound) == len(contacts) * ROUNDS * 4
    assert {row.status for row in outbound} == {"sent"}
    stored = {row.provider_message_id for row in outbound}
    to_ours = [m for c in contacts for m in c.user.received()]
    duplicates = [m for m in to_ours if m["id"] not in stored]
    assert len(to_ours) == len(stored) + len(duplicates)
    report = []
    for copy in duplicates:
        kill = next((k for k in kills if 0 <= k - copy["at"] <= PROVIDER_CALL_SECONDS), None)
        moment = f"kill {kill - copy['at']:.2f} s after Meta got it" if kill else "no kill near"
        report.append(f"{copy['to']} {copy['text']['body']!r}: {moment}")
        assert kill is not None, "a duplicate no kill explains:\n" + "\n".join(report)
    return report


@pytest.fixture
async def whatsapp_contacts(
    db_engine: AsyncEngine, test_settings: Settings, meta: FakeMeta, clean_db: None
) -> AsyncIterator[tuple[str, str]]:
    """A survey bot on a WhatsApp channel: (channel id, phone number id)."""
    yield await make_whatsapp_bot(db_engine, test_settings, survey())


def contacts_on(
    api: httpx.AsyncClient, meta: FakeMeta, bot: tuple[str, str], count: int
) -> list[Contact]:
    channel_id, phone = bot
    return [
        Contact(WhatsAppUser(api, meta, channel_id, phone, wa_id=f"3460000{n:04d}", name=f"C{n}"))
        for n in range(count)
    ]


class Workers:
    """`botbuilder worker` processes started one after another, each logging to one file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log: IO[bytes] = tempfile.NamedTemporaryFile(prefix="bb-chaos-", suffix=".log")
        self.process = start_worker(settings, self.log)

    def kill_and_restart(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = start_worker(self.settings, self.log)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def resends(self) -> int:
        """Sends the workers repeated because an attempt died during the provider call."""
        return self.output().count("may get it twice")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.log.close()


async def test_workers_killed_at_random_moments_lose_and_repeat_nothing(
    test_settings: Settings,
    db_engine: AsyncEngine,
    meta: FakeMeta,
    whatsapp_contacts: tuple[str, str],
):
    settings = test_settings.model_copy(update={"task_queue": TASK_QUEUE})
    seed = random.randrange(10**6)
    chance = random.Random(seed)
    workers = Workers(settings)
    kills: list[float] = []
    try:
        async with api_client(settings) as api:
            contacts = contacts_on(api, meta, whatsapp_contacts, 16)
            load = asyncio.ensure_future(talk(contacts))

            async def under_way() -> bool:  # the worker is up and answering
                return any(c.steps_done for c in contacts)

            await wait_for(under_way, timeout=60, what="the conversations to get going")
            for _ in range(4):
                await asyncio.wait([load], timeout=chance.uniform(0.3, 1.5))
                if load.done():
                    break
                workers.kill_and_restart()
                kills.append(time.monotonic())
            await load
        duplicates = await check_sent_once(db_engine, meta, contacts, kills)
        # each duplicate is a documented resend (a resend may also find Meta never got it)
        assert workers.resends() >= len(duplicates)
    finally:
        workers.stop()
    print(
        f"seed {seed}: {len(kills)} kills, {sum(len(c.accepted) for c in contacts)} messages "
        f"accepted and answered, duplicates: {duplicates or 'none'}"
    )
    assert len(kills) >= 2  # the kills landed while the load ran


class OwnTemporal:
    """A Temporal dev server of this test (persisting to a file), which it stops and starts."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bb-chaos-temporal-"))
        self.port, self.ui_port = free_port(), free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        self.process = start_dev_server(
            self.folder, self.port, self.ui_port, self.folder / "temporal.log"
        )

        async def answers() -> bool:
            try:
                await Client.connect(self.address)
            except RuntimeError:
                return False
            return True

        await wait_for(answers, timeout=60, what="the Temporal dev server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def own_temporal() -> Iterator[OwnTemporal]:
    server = OwnTemporal()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


async def test_temporal_stopped_mid_load_refuses_with_503_and_loses_nothing(
    test_settings: Settings,
    db_engine: AsyncEngine,
    meta: FakeMeta,
    whatsapp_contacts: tuple[str, str],
    own_temporal: OwnTemporal,
):
    settings = test_settings.model_copy(
        update={"task_queue": TASK_QUEUE, "temporal_address": own_temporal.address}
    )
    workers = Workers(settings)

    async def worker_waits() -> bool:  # a worker started before Temporal waits for it
        return "is unreachable" in workers.output()

    await wait_for(worker_waits, timeout=30, what="the worker to wait for Temporal")
    await own_temporal.start()
    try:
        async with api_client(settings) as api:
            contacts = contacts_on(api, meta, whatsapp_contacts, 9)
            *early, latecomer = contacts
            load = asyncio.ensure_future(talk(early))

            async def under_way() -> bool:  # the worker is up and the load mid-way
                return sum(c.steps_done for c in early) >= len(early)

            await wait_for(under_way, timeout=60, what="the conversations to get going")
            own_temporal.stop()
            stopped = time.monotonic()
            late = asyncio.ensure_future(talk([latecomer]))  # writes while Temporal is down

            async def refused() -> bool:
                return latecomer.refused > 0

            await wait_for(refused, timeout=30, what="the ingress to answer 503")
            down_for = 30 - (time.monotonic() - stopped)
            await asyncio.wait([load, late], timeout=down_for)  # Temporal stays down 30 s
            await own_temporal.start()
            await asyncio.gather(load, late)
        duplicates = await check_sent_once(db_engine, meta, contacts, kills=[])
    finally:
        workers.stop()
    assert duplicates == []
    print(
        f"{sum(c.refused for c in contacts)} deliveries refused with 503 while Temporal was "
        f"down; {sum(len(c.accepted) for c in contacts)} accepted and answered"
    )
