"""The FastAPI application: health, GraphQL, channel ingress and the web console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from strawberry.fastapi import GraphQLRouter

from graphql_api import console
from graphql_api.graph.context import context_getter
from graphql_api.http import (
    analytics_files,
    files,
    marketplace_webhook,
    sms_status,
    stripe_webhook,
    triggers,
    twilio_webhook,
    web_channel,
    whatsapp_webhook,
)
from graphql_api.metrics import MetricsMiddleware, metrics_endpoint
from graphql_api.platform import Platform
from graphql_api.request_limits import BodyLimit, invalid_request_response, path_limits
from graphql_api.schema import build_schema
from models.errors import DomainError
from models.process_status import read_status
from models.settings import Settings

HEALTH_TIMEOUT_SECONDS = 3.0


async def check_database(platform: Platform) -> dict[str, object]:
    try:
        async with platform.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as err:
        return {"ok": False, "error": str(err).splitlines()[0]}


async def check_temporal(platform: Platform) -> dict[str, object]:
    try:
        client = await platform.temporal()
        healthy = await client.service_client.check_health(
            timeout=timedelta(seconds=HEALTH_TIMEOUT_SECONDS)
        )
        return {"ok": bool(healthy), "address": platform.settings.resolved_temporal_address()}
    except Exception as err:
        platform._temporal = None
        return {"ok": False, "error": str(err).splitlines()[0] if str(err) else type(err).__name__}


def create_app(settings: Settings, database_url: str) -> FastAPI:
    """Build the API for a resolved database URL."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.platform = Platform(settings, database_url)
        await app.state.platform.warm()
        yield
        await app.state.platform.close()

    development = settings.environment == "development"
    production = settings.environment == "production"
    app = FastAPI(
        title="BotBuilder",
        lifespan=lifespan,
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
        openapi_url=None if production else "/openapi.json",
    )
    app.add_middleware(
        BodyLimit, limit_for=path_limits(settings.max_body_bytes, settings.max_upload_bytes)
    )

    schema = build_schema(
        development, max_cost=settings.max_query_cost, hide_suggestions=production
    )
    app.include_router(
        GraphQLRouter(
            schema, graphql_ide="graphiql" if development else None, context_getter=context_getter
        ),
        prefix="/graphql",
    )

    app.include_router(web_channel.router)
    app.include_router(files.router)
    app.include_router(triggers.router)
    app.include_router(analytics_files.router)
    app.add_exception_handler(DomainError, files.domain_error_response)
    app.add_exception_handler(RequestValidationError, invalid_request_response)
    app.include_router(whatsapp_webhook.router)
    app.include_router(twilio_webhook.router)
    app.add_middleware(MetricsMiddleware)
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.include_router(marketplace_webhook.router)  # before `/webhooks/stripe/{organization}`
    app.include_router(stripe_webhook.router)
    app.include_router(sms_status.router)
    console.mount_console(app)

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        """Database and Temporal reachability; 503 when either is down."""
        platform: Platform = request.app.state.platform
        database = await check_database(platform)
        temporal = await check_temporal(platform)
        ok = bool(database["ok"] and temporal["ok"])
        body = {"status": "ok" if ok else "degraded", "database": database, "temporal": temporal}
        processes = read_status(platform.settings.data_dir.resolve())
        if processes is not None:  # under `botbuilder up`: what it supervises
            body["processes"] = processes
        return JSONResponse(body, status_code=200 if ok else 503)

    return app
