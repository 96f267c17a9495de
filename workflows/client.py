"""Connecting to Temporal with the pydantic data converter every part of BotBuilder uses, and
registering the project's search attributes."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from models.settings import Settings
from workflows.search_attributes import ALL_SEARCH_ATTRIBUTES


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for the configured (or embedded) Temporal and namespace; `runtime` chooses
    where its metrics go (the default runtime keeps none)."""
    return await Client.connect(
        settings.resolved_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register the project's search attributes that a Temporal cluster lacks (a cluster set up
    by an older release gets the newer ones); existing ones are kept."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:  # the time-skipping test server cannot list them
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in ALL_SEARCH_ATTRIBUTES
        if key.name not in existing
    }
    if not missing:
        return
    request = AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise
