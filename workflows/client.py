"""Connecting to Temporal with the pydantic data converter every part of BotBuilder uses."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from models.settings import Settings


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for the configured (or embedded) Temporal and namespace; `runtime` chooses
    where its metrics go (the default runtime keeps none)."""
    return await Client.connect(
        settings.resolved_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
