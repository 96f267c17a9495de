"""Incoming triggers over HTTP, authenticated like GraphQL (an API key, or a manager's token)
or, for one flow's routes, signed with that flow's own trigger secret
(`services.conversations.trigger_secrets`): start a flow for a contact with variables, or send
an event to the run waiting for it.

    POST /api/triggers/flows/{flow_id}/start   {channel_id, contact: {external_id, name?},
                                                variables?, key?}
    POST /api/triggers/events                  {channel_id, contact_external_id, event, data?}
    POST /api/triggers/flows/{flow_id}/events  the same, for a run of that flow only
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from graphql_api.auth import MANAGERS, Caller, check_role
from graphql_api.http.files import caller
from graphql_api.ids import parse_id
from models.conversation_tables import FlowRun
from models.errors import Conflict, InvalidInput
from models.flow_tables import FlowVersion
from models.payloads.engine import ContactRef, ExternalEvent, FlowSnapshot, FlowStart
from models.secret_box import SecretBox
from services.conversations import trigger_secrets
from services.conversations.outreach import normalize_contact
from services.tenancy import channel_in, flow_in
from workflows.bot_conversation import BotConversationWorkflow
from workflows.conversation_base import conversation_workflow_id
from workflows.conversation_client import start_flow_for_contact
from workflows.run_client import signal_external_event

router = APIRouter(prefix="/api/triggers", tags=["incoming triggers"])


class ContactInput(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    name: str | None = None


class FlowStartRequest(BaseModel):
    channel_id: str
    contact: ContactInput
    variables: dict[str, Any] = Field(default_factory=dict)
    key: str | None = Field(
        default=None, max_length=200, description="Retries with the same key start the flow once."
    )


class EventRequest(BaseModel):
    channel_id: str
    contact_external_id: str = Field(min_length=1, max_length=200)
    event: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)


async def manager(request: Request) -> Caller:
    return check_role(await caller(request), MANAGERS)


async def manager_or_signed(flow_id: str, request: Request) -> AsyncIterator[Caller]:
    """A manager's credentials or, when the request carries `webhook-signature`, a signature by
    the flow's own trigger secret (which then stands for the flow's organization). A signed
    request that is then refused leaves its `webhook-id` free for the sender's retry."""
    if not trigger_secrets.is_signed(request.headers):
        yield await manager(request)
        return
    platform = request.app.state.platform
    box = SecretBox(platform.settings.resolved_secret_key())
    body = await request.body()
    flow = parse_id(flow_id, "flow")
    async with platform.sessions.begin() as session:
        organization = await trigger_secrets.verify(
            session, box, flow, request.headers, body, datetime.now(UTC)
        )
    try:
        yield Caller(organization_id=organization, role="trigger")
    except Exception:
        async with platform.sessions.begin() as session:
            await trigger_secrets.forget(session, flow, request.headers["webhook-id"])
        raise


@router.post("/flows/{flow_id}/start", status_code=202)
async def start_flow(
    flow_id: str,
    body: FlowStartRequest,
    request: Request,
    who: Caller = Depends(manager_or_signed),
) -> dict[str, Any]:
    """Start the flow's published version for the contact; 409 when it cannot start now."""
    platform = request.app.state.platform
    async with platform.sessions() as session:
        flow = await flow_in(session, who.organization_id, parse_id(flow_id, "flow"))
        channel = await channel_in(
            session, who.organization_id, parse_id(body.channel_id, "channel")
        )
        version = (
            await session.get(FlowVersion, flow.published_version_id)
            if flow.published_version_id
            else None
        )
    if channel.bot_id != flow.bot_id:
        raise InvalidInput("the channel belongs to another bot than the flow")
    if not channel.is_active:
        raise InvalidInput("the channel is disconnected")
    if version is None:
        raise InvalidInput("the flow has no published version: publish it first")
    contact = ContactRef(
        external_id=normalize_contact(channel.kind, body.contact.external_id),
        name=body.contact.name,
    )
    snapshot = FlowSnapshot(
        flow_id=str(flow.id),
        version_id=str(version.id),
        version=version.version,
        name=flow.name,
        definition=version.definition,
    )
    key = f"trigger-{flow.id}-{body.key or uuid.uuid4()}"
    start = FlowStart(key=key, flow=snapshot, variables=body.variables)
    client = await platform.temporal()
    try:
        result = await start_flow_for_contact(
            client, platform.settings.task_queue, channel, contact, start
        )
    except WorkflowUpdateFailedError as err:
        raise Conflict(str(getattr(err.cause, "message", None) or err.cause)) from err
    if not result.started:
        raise Conflict(result.reason or "the flow could not start")
    return {"started": True, "conversation_id": result.conversation_id}


@router.post("/events", status_code=202)
async def send_event(
    body: EventRequest, request: Request, who: Caller = Depends(manager)
) -> dict[str, Any]:
    """Send an event to the flow run of the contact's conversation (for its `waitEvent`)."""
    return await deliver_event(request, who, body, None)


@router.post("/flows/{flow_id}/events", status_code=202)
async def send_flow_event(
    flow_id: str,
    body: EventRequest,
    request: Request,
    who: Caller = Depends(manager_or_signed),
) -> dict[str, Any]:
    """The same, when the contact's running flow is this one (409 otherwise)."""
    return await deliver_event(request, who, body, parse_id(flow_id, "flow"))


async def deliver_event(
    request: Request, who: Caller, body: EventRequest, flow_id: uuid.UUID | None
) -> dict[str, Any]:
    """Signal the event to the run of the contact's conversation (of `flow_id` when given)."""
    platform = request.app.state.platform
    async with platform.sessions() as session:
        channel = await channel_in(
            session, who.organization_id, parse_id(body.channel_id, "channel")
        )
    contact = normalize_contact(channel.kind, body.contact_external_id)
    client = await platform.temporal()
    conversation = client.get_workflow_handle_for(  # a `Conversation` answers `status` alike
        BotConversationWorkflow.run,
        conversation_workflow_id(str(channel.bot_id), str(channel.id), contact),
    )
    try:
        status = await conversation.query(BotConversationWorkflow.status)
        run = status.get("active_run")
        if not run:
            raise Conflict("no flow is running in this contact's conversation")
        if flow_id is not None:
            async with platform.sessions() as session:
                running = await session.scalar(
                    select(FlowRun.flow_id).where(FlowRun.workflow_id == str(run))
                )
            if running != flow_id:
                raise Conflict("this flow is not the one running in this contact's conversation")
        await signal_external_event(
            client, str(run), ExternalEvent(name=body.event, data=body.data)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise Conflict("no flow is running in this contact's conversation") from err
    return {"delivered": True, "flow_run_workflow_id": run}
