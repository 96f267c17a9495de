"""The one settings class: every option from the environment (or `.env`), with embedded defaults."""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """BotBuilder configuration. Environment variables are `BOTBUILDER_<NAME>` unless noted."""

    model_config = SettingsConfigDict(
        env_prefix="BOTBUILDER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(
        default=Path(".botbuilder"),
        description="Folder holding the embedded PostgreSQL, Temporal and secrets.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BOTBUILDER_DATABASE_URL"),
        description="PostgreSQL URL; unset means the embedded PostgreSQL in the data folder.",
    )
    database_connections: int = Field(
        default=20,
        ge=1,
        description="PostgreSQL connections each process (worker, API) keeps open and uses at "
        "most; more callers wait for one. PostgreSQL's max_connections must cover every "
        "process's.",
    )
    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "BOTBUILDER_TEMPORAL_ADDRESS"),
        description="Temporal frontend host:port; unset means the embedded dev server.",
    )
    temporal_namespace: str = Field(default="default", description="Temporal namespace.")
    task_queue: str = Field(default="botbuilder", description="Temporal task queue.")
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, description="Port of the API (GraphQL, ingress).")
    temporal_port: int = Field(default=7233, description="gRPC port of the embedded Temporal.")
    temporal_ui_port: int = Field(default=8233, description="Port of the embedded Temporal UI.")
    temporal_metrics_port: int = Field(
        default=8234,
        ge=0,
        le=65535,
        description="Port of the embedded Temporal's Prometheus /metrics (0: none).",
    )
    workers: int = Field(default=1, ge=1, le=16, description="Worker processes `up` starts.")
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's Prometheus /metrics listens on."
    )
    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus /metrics (0: none); `up` gives worker N "
        "this port + N - 1.",
    )
    temporal_ui_url: str | None = Field(
        default=None, description="Temporal UI base URL for links; derived when embedded."
    )
    public_url: str | None = Field(
        default=None,
        description="Public base URL of the API (webhook URLs); default http://api_host:api_port.",
    )
    analytics_rollups: bool = Field(
        default=True,
        description="Write the analytics facts the rollups are kept from as messages and steps "
        "are recorded; off only to measure what they cost the engine (analytics then miss what "
        "happens meanwhile).",
    )
    analytics_drain_seconds: float = Field(
        default=0.5,
        ge=0,
        description="The worker folds the analytics facts into the rollups at most once per "
        "this many seconds (facts committed meanwhile share one batch); dashboards lag by up "
        "to about this much under load.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key for encrypting secrets and signing tokens; default is generated once "
        "into <data_dir>/secret.key.",
    )
    environment: str = Field(
        default="development",
        description="`development` enables GraphiQL and introspection; `production` disables them.",
    )
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "BOTBUILDER_OPENAI_API_KEY"),
        description="API key of the `ai` node's model provider; unset: `ai` nodes fail.",
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        validation_alias=AliasChoices("OPENAI_BASE_URL", "BOTBUILDER_OPENAI_BASE_URL"),
        description="OpenAI API base URL, or that of any compatible server.",
    )
    openai_default_model: str = Field(
        default="gpt-4o-mini", description="Model of the `ai` nodes that name none."
    )

    access_token_minutes: int = Field(
        default=15, ge=1, description="Lifetime of API access tokens (JWT), in minutes."
    )
    refresh_token_days: int = Field(
        default=30, ge=1, description="Lifetime of refresh tokens, in days."
    )
    max_upload_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest accepted import file, in bytes."
    )

    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of GraphQL and the provider webhooks, in bytes.",
    )
    max_query_cost: int = Field(
        default=10_000, ge=1, description="Largest estimated cost of one GraphQL operation."
    )
    max_streams: int = Field(
        default=200, ge=1, description="Open web-channel event streams per API process."
    )
    max_streams_per_client: int = Field(
        default=10, ge=1, description="Open web-channel event streams per client address."
    )
    auth_requests_per_minute: int = Field(
        default=20,
        ge=0,
        description="signUp, logIn and acceptInvitation requests a client "
        "address may make a minute (burst of as many), per API process; 0: no limit.",
    )
    web_messages_per_minute: int = Field(
        default=120,
        ge=0,
        description="Web-channel messages a client address may post a "
        "minute (burst of as many), per API process; 0: no limit.",
    )
    outbound_allowed_hosts: str = Field(
        default="",
        description="Comma-separated hosts, IP addresses and networks (CIDR) that flows' HTTP "
        "calls, webhook endpoints and SMTP servers may reach although they are not public "
        "(development and tests only).",
    )

    whatsapp_graph_url: str = Field(
        default="https://graph.facebook.com", description="Base URL of Meta's Graph API."
    )
    whatsapp_graph_version: str = Field(default="v21.0", description="Graph API version.")
    twilio_api_url: str = Field(
        default="https://api.twilio.com", description="Base URL of Twilio's REST API."
    )
    stripe_api_url: str = Field(
        default="https://api.stripe.com", description="Base URL of Stripe's API (payment nodes)."
    )
    hubspot_api_url: str = Field(
        default="https://api.hubapi.com", description="Base URL of HubSpot's API (crm nodes)."
    )
    pipedrive_api_url: str = Field(
        default="https://api.pipedrive.com", description="Base URL of Pipedrive's API."
    )
    salesforce_login_url: str = Field(
        default="https://login.salesforce.com",
        description="Salesforce login endpoint; `login.` becomes the integration's `domain`.",
    )
    stripe_secret_key: str | None = Field(
        default=None,
        description="The platform's own Stripe secret key (marketplace sales); unset: paid "
        "listings cannot be bought.",
    )
    stripe_webhook_secret: str | None = Field(
        default=None,
        description="Signing secret of the platform's Stripe webhook "
        "(`/webhooks/stripe/marketplace`); unset: its events are refused.",
    )
    marketplace_commission_percent: Decimal = Field(
        default=Decimal("20"),
        ge=0,
        le=100,
        decimal_places=2,
        description="The platform's share of each marketplace sale, in percent.",
    )
    marketplace_return_url: str | None = Field(
        default=None,
        description="Where Stripe Checkout returns buyers; default <public URL>/marketplace.",
    )
    messages_per_second: int = Field(
        default=80, ge=1, description="Default outbound pace per sender number."
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, description="How long a webhook receiver has to answer."
    )
    worker_workflow_tasks: int = Field(
        default=20,
        ge=1,
        description="Workflow tasks a worker process runs at once, each on its own thread "
        "(Temporal's default, 100, kept Meta waiting past the knee).",
    )
    worker_local_activities: int = Field(
        default=100,
        ge=1,
        description="Local activities (database writes, sends) a worker process runs at once.",
    )
    workflow_sandbox: bool = Field(
        default=False,
        description="Run workflows in Temporal's sandbox (restricted standard library, each "
        "workflow isolated): catches non-deterministic code at the cost of about a sixth of "
        "the CPU per message. The test suite always runs sandboxed.",
    )
    worker_cached_workflows: int = Field(
        default=1000,
        ge=0,
        description="Workflows a worker keeps in memory between their tasks (sticky cache); "
        "one evicted replays its whole history at its next task.",
    )

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    def resolved_temporal_ui_url(self) -> str:
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}").rstrip("/")

    def temporal_workflows_url(self, workflow_id: str | None = None, query: str = "") -> str:
        """A workflow's page in the Temporal UI, or the list a visibility query finds."""
        namespace = quote(self.temporal_namespace, safe="")
        base = f"{self.resolved_temporal_ui_url()}/namespaces/{namespace}"
        if workflow_id is not None:
            return f"{base}/workflows/{quote(workflow_id, safe='')}"
        return f"{base}/workflows?query={quote(query, safe='')}"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
