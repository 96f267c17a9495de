"""The web console: the built single-page app, served as static files under `/console`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).with_name("console_static")
MISSING = (
    "<!doctype html><title>BotBuilder console</title><h1>The console is not built</h1>"
    "<p>Build it with <code>cd console &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>"
)


def mount_console(app: FastAPI) -> None:
    """Serve the bundle at `/console/` (same origin as `/graphql`, so no CORS)."""

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/")

    if (CONSOLE_DIR / "index.html").is_file():
        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    else:

        @app.get("/console/", include_in_schema=False)
        async def console_missing() -> HTMLResponse:
            return HTMLResponse(MISSING, status_code=503)
