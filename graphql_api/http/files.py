"""Import and export as files over HTTP, authenticated like GraphQL (token or API key).

Exports answer with `Content-Disposition: attachment`; imports take the file as the multipart
field `file` (or as the raw body), refuse anything over `max_upload_bytes`, and answer 422 with
every problem when the file cannot be imported whole.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.datastructures import UploadFile

from graphql_api.auth import MANAGERS, Caller, authenticate, check_role
from graphql_api.ids import parse_id
from models.errors import DomainError, InvalidInput, PayloadTooLarge, TooManyAttempts
from models.flow_tables import Flow
from services.flows import import_export as flow_io
from services.tenancy import bot_in, flow_in

router = APIRouter(prefix="/api", tags=["import and export"])

HTTP_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "BAD_USER_INPUT": 422,
    "TOO_MANY_ATTEMPTS": 429,
    "RATE_LIMITED": 429,
}


async def domain_error_response(_request: Request, error: Exception) -> JSONResponse:
    """A refusal as JSON `{"error": {"code", "message", ...}}` with its HTTP status."""
    assert isinstance(error, DomainError)
    body = {"code": error.code, "message": error.message, **error.details()}
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyAttempts) else {}
    return JSONResponse(
        {"error": body}, status_code=HTTP_STATUS.get(error.code, 400), headers=headers
    )


async def caller(request: Request) -> Caller:
    return await authenticate(request.app.state.platform, request)


def attachment(content: bytes, filename: str, media_type: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


def json_attachment(value: dict[str, Any], filename: str) -> Response:
    return attachment(json.dumps(value, indent=2).encode(), filename, "application/json")


def today() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def read_upload(request: Request) -> tuple[bytes, str]:
    """The uploaded file's bytes and name, refused when larger than the limit (`BodyLimit`
    has already refused a body too large for any file with its envelope)."""
    limit = request.app.state.platform.settings.max_upload_bytes
    too_large = PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("send the file in the multipart field `file`")
            data, name = await upload.read(limit + 1), upload.filename or "upload"
    else:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        data, name = b"".join(chunks), "upload"
    if len(data) > limit:
        raise too_large
    return data, name


def flow_summary(flow: Flow) -> dict[str, Any]:
    published = flow.published_version_id
    return {
        "id": str(flow.id),
        "name": flow.name,
        "published_version_id": str(published) if published else None,
    }


@router.get("/flows/{flow_id}/export")
async def export_flow(flow_id: str, request: Request, who: Caller = Depends(caller)) -> Response:
    """One flow as the seeds' JSON export file."""
    async with request.app.state.platform.sessions() as session:
        flow = await flow_in(session, who.organization_id, parse_id(flow_id, "flow"))
        body = flow_io.flow_export(flow, today())
    return json_attachment(body, f"{flow_io.file_stem(flow.name)}.json")


class FlowIds(BaseModel):
    flow_ids: list[str] = Field(min_length=1, max_length=flow_io.MAX_ZIP_ENTRIES - 1)


@router.post("/flows/export")
async def export_flows(body: FlowIds, request: Request, who: Caller = Depends(caller)) -> Response:
    """Several flows as a ZIP of export files with `metadata.json`."""
    async with request.app.state.platform.sessions() as session:
        flows = [
            await flow_in(session, who.organization_id, parse_id(flow_id, "flow"))
            for flow_id in dict.fromkeys(body.flow_ids)
        ]
        archive = flow_io.flows_zip(flows, today())
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return attachment(archive, f"flows_export_{stamp}.zip", "application/zip")


@router.get("/bots/{bot_id}/export")
async def export_bot(bot_id: str, request: Request, who: Caller = Depends(caller)) -> Response:
    """The bot's configuration with all its flows and its default flow."""
    async with request.app.state.platform.sessions() as session:
        bot = await bot_in(session, who.organization_id, parse_id(bot_id, "bot"))
        flows = list(
            await session.scalars(
                select(Flow).where(Flow.bot_id == bot.id).order_by(Flow.created_at)
            )
        )
        body = flow_io.bot_export(bot, flows, today())
    return json_attachment(body, f"{flow_io.file_stem(bot.name)}_config.json")


@router.post("/bots/{bot_id}/flows/import", status_code=201)
async def import_flows(
    bot_id: str, request: Request, publish: bool = False, who: Caller = Depends(caller)
) -> dict[str, Any]:
    """Flows from a JSON export or a ZIP into the bot; `publish=true` publishes them too."""
    check_role(who, MANAGERS)
    sessions = request.app.state.platform.sessions
    bot_key = parse_id(bot_id, "bot")
    async with sessions() as session:
        await bot_in(session, who.organization_id, bot_key)  # 404 before reading the upload
    flows = await asyncio.to_thread(flow_io.read_flows_file, *await read_upload(request))
    async with sessions.begin() as session:
        bot = await bot_in(session, who.organization_id, bot_key)
        created = await flow_io.import_flows(
            session, bot, flows, publish_them=publish, created_by=who.user_id
        )
        return {"flows": [flow_summary(flow) for flow in created]}


@router.post("/bots/import", status_code=201)
async def import_bot(
    request: Request, publish: bool = False, who: Caller = Depends(caller)
) -> dict[str, Any]:
    """A new bot from a bot configuration file; `publish=true` publishes its flows too."""
    check_role(who, MANAGERS)
    config = await asyncio.to_thread(flow_io.read_bot_file, *await read_upload(request))
    async with request.app.state.platform.sessions.begin() as session:
        bot, flows = await flow_io.import_bot(
            session, who.organization_id, config, publish_them=publish, created_by=who.user_id
        )
        default = str(bot.default_flow_id) if bot.default_flow_id else None
        return {
            "bot": {"id": str(bot.id), "name": bot.name, "default_flow_id": default},
            "flows": [flow_summary(flow) for flow in flows],
        }
