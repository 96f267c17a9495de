"""The webhook retry schedule over hours and days, proven on Temporal's time-skipping server:
each attempt is made when the schedule says, with the same webhook-id, until one succeeds, the
schedule runs out, or the endpoint has failed for five days."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from functools import partial
from itertools import pairwise

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.webhook_delivery import WebhookDeliverer
from models.db import make_session_factory
from models.secret_box import SecretBox
from models.settings import Settings
from models.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from outbound.guard import OutboundPolicy
from services.bots.publishing import create_organization
from services.webhooks.endpoints import EndpointSettings, create_endpoint, send_test_event
from services.webhooks.rules import JITTER, RETRY_SCHEDULE
from tests.helpers import wait_for
from tests.test_durable_timers import time_skipping_server_path
from tests.webhook_receiver import Receiver
from worker.registry import workflow_runner
from workflows.client import ensure_search_attributes
from workflows.search_attributes import WEBHOOK_ENDPOINT_ID
from workflows.webhook_client import endpoint_search_attributes, wake_deliveries_on_commit
from workflows.webhook_delivery import WebhookDeliveryWorkflow, delivery_workflow_id

QUEUE = "webhook-schedule"
TIMEOUT_SECONDS = 0.3


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
async def skipping_env(
    db_engine: AsyncEngine, test_settings: Settings, clean_db: None
) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server_path(),
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client, "default")
    # committed deliveries wake their endpoint on this server (not the dev server earlier
    # API tests left the waker pointing at), as the API and the worker do in production
    wake_deliveries_on_commit(partial(asyncio.sleep, 0, env.client), QUEUE)
    settings = test_settings.model_copy(update={"webhook_timeout_seconds": TIMEOUT_SECONDS})
    box = SecretBox(settings.resolved_secret_key())
    deliverer = WebhookDeliverer(make_session_factory(db_engine), box, settings)
    worker = Worker(
        env.client,
        task_queue=QUEUE,
        workflows=[WebhookDeliveryWorkflow],
        activities=[deliverer.deliver_webhooks],
        workflow_runner=workflow_runner(),
    )
    async with worker:
        yield env
    await env.shutdown()


async def endpoint_with_test_event(
    engine: AsyncEngine,
    settings: Settings,
    receiver: Receiver,
    url: str | None = None,
    allowed_hosts: str | None = None,
    test_event: bool = True,
) -> uuid.UUID:
    """An endpoint POSTing to the receiver (which learns its secret), with one test delivery
    unless `test_event` is false."""
    box = SecretBox(settings.resolved_secret_key())
    async with make_session_factory(engine).begin() as session:
        organization = await create_organization(session, "Acme", f"acme-{uuid.uuid4().hex[:8]}")
        endpoint, secret = await create_endpoint(
            session,
            box,
            organization.id,
            None,
            EndpointSettings(url=url or receiver.url, events=["payment.completed"]),
            OutboundPolicy.parse(allowed_hosts or settings.outbound_allowed_hosts),
        )
        if test_event:
            await send_test_event(session, endpoint)
    receiver.secrets.append(secret)
    return endpoint.id


async def first_attempt_made(engine: AsyncEngine, endpoint_id: uuid.UUID) -> None:
    """Wait until the woken workflow made its immediate attempt (before skipping time)."""

    async def attempted() -> bool:
        return bool(await attempts_of(engine, endpoint_id))

    await wait_for(attempted, what="the first attempt")


async def attempts_of(engine: AsyncEngine, endpoint_id: uuid.UUID) -> list[WebhookAttempt]:
    async with make_session_factory(engine)() as session:
        rows = await session.scalars(
            select(WebhookAttempt)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookAttempt.id)
        )
        return list(rows)


async def delivery_status(engine: AsyncEngine, endpoint_id: uuid.UUID) -> str | None:
    async with make_session_factory(engine)() as session:
        query = select(WebhookDelivery.status).where(WebhookDelivery.endpoint_id == endpoint_id)
        return await session.scalar(query)


def assert_on_schedule(attempts: list[WebhookAttempt]) -> None:
    """Each attempt came when the schedule says after the previous one (jitter allowed)."""
    for number, (previous, attempt) in enumerate(pairwise(attempts), start=1):
        gap = attempt.attempted_at - previous.attempted_at
        wanted = RETRY_SCHEDULE[number]
        low = wanted * (1 - JITTER) - timedelta(seconds=1)
        high = wanted * (1 + JITTER) + timedelta(seconds=5)
        assert low <= gap <= high, (number, gap, wanted)


async def test_a_receiver_that_never_answers_gets_every_scheduled_attempt(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.hang.set()
    endpoint = await endpoint_with_test_event(db_engine, test_settings, receiver)
    await first_attempt_made(db_engine, endpoint)

    await skipping_env.sleep(sum(RETRY_SCHEDULE, timedelta()) * (1 + JITTER) + timedelta(hours=1))

    async def gave_up() -> bool:
        return await delivery_status(db_engine, endpoint) == "failed"

    await wait_for(gave_up, timeout=60, what="the schedule to run out")
    attempts = await attempts_of(db_engine, endpoint)
    assert len(attempts) == len(RETRY_SCHEDULE)
    assert {a.error for a in attempts} == {f"no answer within {TIMEOUT_SECONDS:g} s"}
    assert_on_schedule(attempts)
    ids = {event["id"] for event in receiver.events()}
    # Skipped time can also expire an activity's heartbeat while its POST hangs: that POST is
    # then sent again by the retried activity (at least once, same id) but logged once.
    assert len(ids) == 1 and len(receiver.events()) >= len(RETRY_SCHEDULE)
    assert all(event["valid"] == [True] for event in receiver.events())


async def test_a_receiver_failing_four_times_gets_it_once_after_five_attempts(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.script = [500, 502, 503, 429]
    endpoint = await endpoint_with_test_event(db_engine, test_settings, receiver)
    await first_attempt_made(db_engine, endpoint)

    await skipping_env.sleep(sum(RETRY_SCHEDULE[:5], timedelta()) * (1 + JITTER))

    async def delivered() -> bool:
        return await delivery_status(db_engine, endpoint) == "succeeded"

    await wait_for(delivered, timeout=60, what="the fifth attempt")
    attempts = await attempts_of(db_engine, endpoint)
    assert [a.status_code for a in attempts] == [500, 502, 503, 429, 200]
    assert_on_schedule(attempts)
    assert len({event["id"] for event in receiver.events()}) == 1
    assert len(receiver.events()) == 5


async def test_retry_after_is_honoured(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.script, receiver.retry_after = [503], "3600"
    endpoint = await endpoint_with_test_event(db_engine, test_settings, receiver)
    await first_attempt_made(db_engine, endpoint)

    await skipping_env.sleep(timedelta(hours=1, minutes=5))

    async def delivered() -> bool:
        return await delivery_status(db_engine, endpoint) == "succeeded"

    await wait_for(delivered, timeout=60, what="the attempt after Retry-After")
    first, second = await attempts_of(db_engine, endpoint)
    assert (
        timedelta(hours=1)
        <= second.attempted_at - first.attempted_at
        < timedelta(hours=1, minutes=1)
    )


async def test_an_endpoint_failing_for_five_days_is_disabled(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.script = [500] * 1000
    endpoint = await endpoint_with_test_event(db_engine, test_settings, receiver)
    await first_attempt_made(db_engine, endpoint)
    sessions = make_session_factory(db_engine)

    for _day in range(6):  # a new event every day, each failing all its attempts
        await skipping_env.sleep(timedelta(days=1))
        made = len(await attempts_of(db_engine, endpoint))
        async with sessions.begin() as session:
            row = await session.get(WebhookEndpoint, endpoint)
            assert row is not None
            if row.disabled_at is not None:
                break
            await send_test_event(session, row)
        await wait_for(partial(_more_attempts, db_engine, endpoint, made), what="the new event")

    async def disabled() -> WebhookEndpoint | None:
        async with sessions() as session:
            row = await session.get(WebhookEndpoint, endpoint)
            return row if row is not None and row.disabled_at is not None else None

    row = await wait_for(disabled, timeout=60, what="the endpoint to be disabled")
    assert row.disabled_reason == "every delivery attempt failed for 5 days"
    assert row.failing_since is not None
    assert row.disabled_at - row.failing_since >= timedelta(days=5)


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.script = [307]
    endpoint = await endpoint_with_test_event(db_engine, test_settings, receiver)

    await first_attempt_made(db_engine, endpoint)

    [first] = await attempts_of(db_engine, endpoint)
    assert (first.status_code, first.error) == (307, "the receiver answered 307")
    assert await delivery_status(db_engine, endpoint) == "pending"
    assert len(receiver.events()) == 1  # `/hooks/moved` was never asked


async def test_an_address_refused_at_delivery_is_never_called(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    # allowed when saved (another policy then), refused by the worker's policy at delivery
    url = receiver.url.replace("127.0.0.1", "127.0.0.2")
    endpoint = await endpoint_with_test_event(
        db_engine, test_settings, receiver, url=url, allowed_hosts="127.0.0.0/8"
    )

    await first_attempt_made(db_engine, endpoint)
    first = (await attempts_of(db_engine, endpoint))[0]
    assert first.status_code is None and first.error is not None
    assert "127.0.0.2" in first.error and "may only reach public addresses" in first.error
    assert receiver.events() == []


async def test_continuing_as_new_loses_and_repeats_no_event(
    skipping_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    test_settings: Settings,
    receiver: Receiver,
) -> None:
    """A run that drains twice then hands over: events committed on both sides of each hand-over
    (one wakes the run that is ending) arrive once each, and every run keeps the search
    attribute operators find the endpoint by."""
    endpoint = await endpoint_with_test_event(db_engine, test_settings, receiver, test_event=False)
    workflow_id = delivery_workflow_id(str(endpoint))
    # Started before any event's wake (which finds it running), with a small hand-over threshold.
    first = await skipping_env.client.start_workflow(
        WebhookDeliveryWorkflow.run,
        args=[str(endpoint), 2],
        id=workflow_id,
        task_queue=QUEUE,
        search_attributes=endpoint_search_attributes(str(endpoint)),
    )
    sessions = make_session_factory(db_engine)
    for sent in range(7):
        async with sessions.begin() as session:
            row = await session.get(WebhookEndpoint, endpoint)
            assert row is not None
            await send_test_event(session, row)
        await wait_for(partial(_count_events, receiver, sent + 1), what=f"event {sent + 1}")

    async def all_succeeded() -> bool:
        async with sessions() as session:
            statuses = await session.scalars(
                select(WebhookDelivery.status).where(WebhookDelivery.endpoint_id == endpoint)
            )
            return set(statuses) == {"succeeded"}

    await wait_for(all_succeeded, what="every delivery logged")
    ids = [event["id"] for event in receiver.events()]
    assert len(ids) == len(set(ids)) == 7
    assert len(await attempts_of(db_engine, endpoint)) == 7
    client = skipping_env.client
    handed_over = await client.get_workflow_handle(
        workflow_id, run_id=first.result_run_id
    ).describe()
    assert handed_over.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    latest = await client.get_workflow_handle(workflow_id).describe()
    assert latest.run_id != first.result_run_id
    assert latest.status == WorkflowExecutionStatus.RUNNING
    assert latest.typed_search_attributes.get(WEBHOOK_ENDPOINT_ID) == str(endpoint)


async def _count_events(receiver: Receiver, wanted: int) -> bool:
    return len(receiver.events()) >= wanted


async def _more_attempts(engine: AsyncEngine, endpoint_id: uuid.UUID, than: int) -> bool:
    return len(await attempts_of(engine, endpoint_id)) > than
