"""Conversations begun before a write-combining patch finish on the new code, and those begun
after it take the new path:

- `COMBINED_WRITES`: a new conversation stores its first message as it opens, its run's row
  goes with the run's first send and the run's last steps with its end. Before it, opening the
  conversation, a run's start, its last steps and its end were a local activity each.
- `FOLDED_WRITES`: an answer to the question a run waits on goes to the run at once and
  is stored with the run's next write (here, its next send), not by a local activity of its own.

A conversation begun on the old code keeps the old path after the deploy (Temporal memoizes
`patched` per workflow run); both end stored alike: completed, every step, no current run, and
every message in the order it was said.

- Engine revision 1 (`workflows.interpreter.REVISION`, in a `BotConversation` run's input): a
  run begun on it takes every path above without asking `patched`, and keeps the contact's
  silence with one timer; a run begun before keeps asking, and its next run is on revision 1.
- Engine revision 2: a run whose last node only sends stores its end with that send, not in a
  local activity of its own; a run begun on revision 1 keeps the local activity, and its next
  run is on revision 2."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment

from models.payloads.activity_names import (
    BEGIN_FLOW_RUN,
    FINISH_FLOW_RUN,
    OPEN_AND_RECORD,
    OPEN_CONVERSATION,
    RECORD_AND_MATCH,
    RECORD_STEPS,
    SEND_MESSAGE,
)
from models.settings import Settings
from tests.helpers import (
    WebChat,
    api_client,
    chain,
    history_counts,
    make_web_bot,
    node,
    wait_for,
)
from tests.upgrades import (
    ASK_AND_GREET,
    before_patch,
    engine_worker,
    local_activities,
    on_revision,
)
from workflows.conversation_base import conversation_workflow_id
from workflows.interpreter import COMBINED_WRITES, FOLDED_WRITES

TASK_QUEUE = "botbuilder-write-patches"
ANSWERED = [RECORD_AND_MATCH, SEND_MESSAGE, SEND_MESSAGE]  # before `FOLDED_WRITES`
BEFORE_COMBINED = [
    *[OPEN_CONVERSATION, RECORD_AND_MATCH, BEGIN_FLOW_RUN, SEND_MESSAGE],
    *[*ANSWERED, RECORD_STEPS, FINISH_FLOW_RUN],
]
BEFORE_FOLDED = [OPEN_AND_RECORD, SEND_MESSAGE, *ANSWERED, FINISH_FLOW_RUN]
NOW = [OPEN_AND_RECORD, SEND_MESSAGE, SEND_MESSAGE, SEND_MESSAGE]  # the last send ends the run


async def stored_run(engine: AsyncEngine, contact: str) -> tuple[str, list[str], bool] | None:
    """The contact's flow run as stored: its status, its steps' nodes, and whether the
    conversation still names it its current run; None before its row exists."""
    async with engine.connect() as connection:
        run = (
            await connection.execute(
                text(
                    "SELECT r.id, r.status, c.current_flow_run_id IS NOT NULL FROM flow_runs r "
                    "JOIN conversations c ON c.id = r.conversation_id "
                    "JOIN contacts k ON k.id = c.contact_id WHERE k.external_id = :contact"
                ),
                {"contact": contact},
            )
        ).one_or_none()
        if run is None:
            return None
        steps = await connection.scalars(
            text("SELECT node_id FROM flow_run_steps WHERE flow_run_id = :run ORDER BY sequence"),
            {"run": run[0]},
        )
        return run[1], list(steps), run[2]


async def run_ended(engine: AsyncEngine, contact: str) -> bool:
    """Whether the contact's run is stored completed, with its three steps, and no longer the
    conversation's current run."""
    return await stored_run(engine, contact) == ("completed", ["ask", "hi", "bye"], False)


@pytest.mark.parametrize(
    ("patches", "old_path"),
    [
        pytest.param((FOLDED_WRITES, COMBINED_WRITES), BEFORE_COMBINED, id=COMBINED_WRITES),
        pytest.param((FOLDED_WRITES,), BEFORE_FOLDED, id=FOLDED_WRITES),
    ],
)
async def test_a_conversation_begun_before_the_patch_finishes_after_it(
    temporal_env: WorkflowEnvironment,
    test_settings: Settings,
    db_engine: AsyncEngine,
    clean_db: None,
    monkeypatch: pytest.MonkeyPatch,
    patches: tuple[str, ...],
    old_path: list[str],
) -> None:
    definition = chain(
        node("ask", "question", content="What is your name?", variable="name"),
        node("hi", "message", content="Hi {{name}}"),
        node("bye", "message", content="Bye"),
    )
    bot, channel = await make_web_bot(db_engine, definition)
    settings = test_settings.model_copy(update={"task_queue": TASK_QUEUE})
    async with api_client(settings) as api:
        upgraded, newcomer = WebChat(api, channel, "upgraded"), WebChat(api, channel, "newcomer")
        monkeypatch.setattr(workflow, "patched", before_patch(*patches))
        on_revision(monkeypatch, 0)
        async with engine_worker(temporal_env, test_settings, db_engine, TASK_QUEUE):
            await upgraded.say("hello")
            assert await upgraded.wait_replies(1) == ["What is your name?"]
        assert await stored_run(db_engine, "upgraded") == ("running", [], True)
        monkeypatch.undo()  # the deploy: the current code from here on
        async with engine_worker(temporal_env, test_settings, db_engine, TASK_QUEUE):
            await upgraded.say("Ana")  # replays the old path, then the run goes on
            assert await upgraded.wait_replies(3) == ["What is your name?", "Hi Ana", "Bye"]
            await newcomer.say("hello")
            assert await newcomer.wait_replies(1) == ["What is your name?"]
            assert await stored_run(db_engine, "newcomer") == ("running", [], True)
            await newcomer.say("Bea")
            assert await newcomer.wait_replies(3) == ["What is your name?", "Hi Bea", "Bye"]
            for contact in ("upgraded", "newcomer"):
                await wait_for(
                    lambda contact=contact: run_ended(db_engine, contact),
                    what=f"{contact}'s run stored as ended",
                )
        said = {
            name: [m["text"] for m in await chat.messages()]
            for name, chat in (("upgraded", upgraded), ("newcomer", newcomer))
        }
    assert said == {
        "upgraded": ["hello", "What is your name?", "Ana", "Hi Ana", "Bye"],
        "newcomer": ["hello", "What is your name?", "Bea", "Hi Bea", "Bye"],
    }
    client = temporal_env.client
    histories = {
        contact: await local_activities(client, conversation_workflow_id(bot, channel, contact))
        for contact in ("upgraded", "newcomer")
    }
    assert histories == {"upgraded": old_path, "newcomer": NOW}


async def two_runs_across_the_deploy(
    env: WorkflowEnvironment,
    settings: Settings,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    revision: int,
) -> tuple[str, str, str]:
    """A conversation begun on engine `revision`: its first flow run asks, the deploy, the
    answer, then a second flow run asked and answered; (workflow id, first run, latest run)."""
    bot, channel = await make_web_bot(engine, ASK_AND_GREET)
    client = env.client
    workflow_id = conversation_workflow_id(bot, channel, "upgraded")
    async with api_client(settings.model_copy(update={"task_queue": TASK_QUEUE})) as api:
        chat = WebChat(api, channel, "upgraded")
        on_revision(monkeypatch, revision)
        async with engine_worker(env, settings, engine, TASK_QUEUE):
            await chat.say("hello")
            assert await chat.wait_replies(1) == ["What is your name?"]
        first_run = (await client.get_workflow_handle(workflow_id).describe()).run_id
        monkeypatch.undo()  # the deploy
        async with engine_worker(env, settings, engine, TASK_QUEUE):
            await chat.say("Ana")
            assert await chat.wait_replies(2) == ["What is your name?", "Hi Ana"]
            await wait_for(lambda: ended_runs(engine, 1), what="the first run's end")
            await chat.say("hello")
            await chat.wait_replies(3)
            await chat.say("Bea")
            replies = await chat.wait_replies(4)
            await wait_for(lambda: ended_runs(engine, 2), what="the second run's end")
    assert replies == ["What is your name?", "Hi Ana", "What is your name?", "Hi Bea"]
    latest = (await client.get_workflow_handle(workflow_id).describe()).run_id
    assert latest != first_run
    return workflow_id, first_run, latest


async def test_a_conversation_begun_before_revisions_takes_them_up_at_its_next_run(
    temporal_env: WorkflowEnvironment,
    test_settings: Settings,
    db_engine: AsyncEngine,
    clean_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Begun on revision 0, a conversation's workflow run keeps asking `patched` and starting a
    timer per wait after the deploy; the next flow run (continued as new) is on the current
    revision: no patch marker, no timer cancelled by an answer."""
    workflow_id, first_run, latest = await two_runs_across_the_deploy(
        temporal_env, test_settings, db_engine, monkeypatch, 0
    )
    client = temporal_env.client
    first = await history_counts(client.get_workflow_handle(workflow_id, run_id=first_run))
    assert (first["PATCH"], first["TIMER_CANCELED"]) == (1, 2)
    now = await history_counts(client.get_workflow_handle(workflow_id, run_id=latest))
    assert (now["PATCH"], now["TIMER_CANCELED"]) == (0, 0)


async def test_a_run_begun_on_revision_1_ends_in_its_own_write_and_the_next_with_its_send(
    temporal_env: WorkflowEnvironment,
    test_settings: Settings,
    db_engine: AsyncEngine,
    clean_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workflow_id, first_run, _ = await two_runs_across_the_deploy(
        temporal_env, test_settings, db_engine, monkeypatch, 1
    )
    client = temporal_env.client
    first = await local_activities(client, workflow_id, run_id=first_run)
    now = await local_activities(client, workflow_id)
    # the first run's end in a write of its own, then the next flow's start recorded there
    assert first == [OPEN_AND_RECORD, SEND_MESSAGE, SEND_MESSAGE, FINISH_FLOW_RUN, RECORD_AND_MATCH]
    assert now == [SEND_MESSAGE, SEND_MESSAGE]  # the question, then the answer with the end


async def ended_runs(engine: AsyncEngine, count: int) -> bool:
    """Whether `count` runs are stored completed, each with both its steps, none current."""
    async with engine.connect() as connection:
        runs = (
            await connection.execute(
                text(
                    "SELECT r.status, array_agg(s.node_id ORDER BY s.sequence), "
                    "bool_or(c.current_flow_run_id IS NOT DISTINCT FROM r.id) FROM flow_runs r "
                    "JOIN conversations c ON c.id = r.conversation_id "
                    "JOIN flow_run_steps s ON s.flow_run_id = r.id GROUP BY r.id"
                )
            )
        ).all()
    return [tuple(run) for run in runs] == [("completed", ["ask", "hi"], False)] * count
