"""Patterns written by tenants (conditions, trigger patterns) run in linear time on RE2: a
polynomial pattern against a long message neither stalls the worker nor delays the answer."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.validation import validate_flow
from models.conversation_tables import FlowRun
from models.db import make_session_factory
from models.patterns import PatternError, compile_pattern
from services.conversations.triggers import trigger_matches
from tests.helpers import WebChat, chain, make_web_bot, node, wait_for

POLYNOMIAL = ".*.*.*;"  # about n⁴ steps on a backtracking engine when nothing matches
LONG = "a" * 4096


def test_a_polynomial_trigger_pattern_on_a_long_message_is_fast_and_case_insensitive():
    started = time.monotonic()
    assert not trigger_matches({"type": "pattern", "pattern": POLYNOMIAL}, LONG)
    assert time.monotonic() - started < 1
    assert trigger_matches({"type": "pattern", "pattern": r"ORDER \d+"}, "my order 12 please")
    assert trigger_matches({"type": "pattern", "pattern": "café"}, "CAFÉ con leche")


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"^\w+$", "José"),
        (r"^\w+$", "dos palabras"),
        (r"\d+", "٣"),
        (r"\s", "\u00a0"),
        (r"^[\w-]+$", "ñu-ñu"),
        (r"\W", "é"),
        (r"^\S+@\S+$", "ana@correo.es"),
        (r"[^\d]", "5"),
        (r"\\w", "\\w"),
        (r"(?i)^HOLA", "hola, ¿qué tal?"),
    ],
)
def test_patterns_match_what_python_re_matched(pattern: str, text: str):
    """Flows were written against Python's `re`: the shorthand classes keep their Unicode
    meaning, so a running conversation replays to the same branch after the switch."""
    assert bool(compile_pattern(pattern).search(text)) == bool(re.search(pattern, text))


def test_patterns_re2_cannot_run_are_refused_with_its_reason():
    for pattern, reason in [("(?<=x)y", "invalid perl operator"), (r"(a)\1", "escape")]:
        try:
            compile_pattern(pattern)
        except PatternError as error:
            assert reason in str(error)
        else:
            raise AssertionError(f"{pattern!r} was accepted")
    problems = validate_flow(
        {"name": "f", "trigger": "pattern", "pattern": "(?!no)", "nodes": [node("a", "end")]}
    )
    assert [problem.code for problem in problems] == ["invalid_pattern"]


async def test_polynomial_condition_and_trigger_answer_within_a_bound(
    api: httpx.AsyncClient, db_engine: AsyncEngine
):
    """In the sandboxed workflow (condition) and in trigger matching (activity)."""
    definition = {
        "name": "semicolons",
        "nodes": [
            node("ask", "question", content="Say something", variable="said"),
            node("check", "condition", condition=f"said matches '{POLYNOMIAL}'"),
            node("yes", "message", content="semicolon"),
            node("no", "message", content="no semicolon"),
        ],
        "edges": [
            {"id": "e1", "source": "ask", "target": "check"},
            {"id": "e2", "source": "check", "target": "yes", "sourceHandle": "true"},
            {"id": "e3", "source": "check", "target": "no", "sourceHandle": "false"},
        ],
    }
    trigger = {"type": "pattern", "keywords": [], "pattern": POLYNOMIAL}
    _bot, channel = await make_web_bot(db_engine, definition, trigger=trigger)
    chat = WebChat(api, channel, "long-talker")
    started = time.monotonic()
    await chat.say(LONG)  # matches no trigger: nothing starts
    await chat.say("hi;")  # starts the flow
    await chat.wait_replies(1, timeout=10)
    await chat.say(LONG)
    assert await chat.wait_replies(2, timeout=10) == ["Say something", "no semicolon"]
    assert time.monotonic() - started < 10


async def test_a_pattern_published_before_re2_fails_its_run_instead_of_stalling_it(
    api: httpx.AsyncClient, db_engine: AsyncEngine
):
    """A version published under Python's `re` with a lookahead: the run ends `failed` with
    the reason, and the contact's next message is answered as usual."""
    definition = chain(
        node("ask", "question", content="Say something", variable="said"),
        node("check", "condition", condition="said matches 'PLACEHOLDER'"),
        node("done", "message", content="checked"),
    )
    _bot, channel = await make_web_bot(db_engine, definition)
    lookahead = "UPDATE flow_versions SET definition = "
    lookahead += "replace(definition::text, 'PLACEHOLDER', '(?=x)')::jsonb"
    async with db_engine.begin() as connection:
        await connection.execute(text(lookahead))
    chat = WebChat(api, channel, "old-flow")
    await chat.say("hi")
    await chat.wait_replies(1)
    await chat.say("x")

    async def failed_run() -> dict | None:
        async with make_session_factory(db_engine)() as session:
            return await session.scalar(select(FlowRun.error).where(FlowRun.status == "failed"))

    error = await wait_for(failed_run, what="the run to fail")
    assert "node 'check' cannot run" in error["message"]
    assert "invalid perl operator" in error["message"]
    await chat.say("hello again")
    assert await chat.wait_replies(2) == ["Say something", "Say something"]
