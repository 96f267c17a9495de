"""What every request handler shares: settings, database, Temporal client, live updates,
channels, limits."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from graphql_api.http.active_channels import ActiveChannels
from graphql_api.live_updates import LiveUpdates, StreamSlots
from graphql_api.rate_limits import RateLimiter
from models.db import make_engine, make_session_factory, warm
from models.secret_box import SecretBox
from models.settings import Settings
from workflows.client import connect_temporal
from workflows.webhook_client import wake_deliveries_on_commit


class Platform:
    """What every request handler shares: settings, database and the Temporal client."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self._temporal: Client | None = None
        self.live_updates = LiveUpdates(database_url, self.sessions)
        self.active_channels = ActiveChannels(database_url, self.engine)
        self.stream_slots = StreamSlots(settings.max_streams, settings.max_streams_per_client)
        self.auth_limiter = RateLimiter(settings.auth_requests_per_minute, "sign-ups and log-ins")
        self.web_message_limiter = RateLimiter(settings.web_messages_per_minute, "messages")
        wake_deliveries_on_commit(self.temporal, settings.task_queue)
        self._open_secrets: Callable[[str], dict[str, Any]] | None = None

    def open_secrets(self, ciphertext: str) -> dict[str, Any]:
        """A channel's decrypted secrets (a copy): each ciphertext is decrypted once per
        process, not on every webhook."""
        if self._open_secrets is None:
            self._open_secrets = SecretBox(self.settings.resolved_secret_key()).remembering()
        return self._open_secrets(ciphertext)

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use (and again after a failed attempt)."""
        if self._temporal is None:
            self._temporal = await connect_temporal(self.settings)
        return self._temporal

    async def warm(self) -> None:
        """Ready at start what the first webhook would otherwise wait for: the database engine
        and the ingress's channel listener. What start-up built is then moved out of the garbage
        collector's reach (`gc.freeze`), so a full collection does not walk it mid-request."""
        await warm(self.engine)
        self.active_channels.start()
        gc.freeze()

    async def close(self) -> None:
        await self.live_updates.close()
        await self.active_channels.close()
        await self.engine.dispose()
