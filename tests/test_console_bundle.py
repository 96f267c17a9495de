"""The committed console bundle is built from the committed sources, the API serves it under
`/console`, and the registry it draws its palette from is exposed over GraphQL."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from flowlang.nodes import REGISTRY
from graphql_api import console
from graphql_api.console import CONSOLE_DIR
from tests.graphql_client import sign_up

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "console/index.html",
    "console/package.json",
    "console/package-lock.json",
    "console/vite.config.ts",
    "console/codegen.ts",
    "console/tsconfig.json",
    "graphql_api/schema.graphql",
]


def source_hash() -> str:
    """The hash console/scripts/stamp.mjs records at build time (same files, same order)."""
    sources = ROOT / "console" / "src"
    paths = INPUTS + [
        path.relative_to(ROOT).as_posix()
        for path in sources.rglob("*")
        if path.is_file() and "gql" not in path.relative_to(sources).parts[:-1]
    ]
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.encode() + b"\0" + (ROOT / path).read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_committed_bundle_matches_its_sources() -> None:
    recorded = (CONSOLE_DIR / "source-hash.txt").read_text().strip()
    assert recorded == source_hash(), (
        "graphql_api/console_static is stale (console/ or the schema changed): run "
        "`cd console && npm ci && npm run build` and commit graphql_api/console_static"
    )
    assert not list(CONSOLE_DIR.rglob("*.map")), "source maps are not shipped"


async def test_the_api_serves_the_console_with_its_assets(api: httpx.AsyncClient) -> None:
    redirect = await api.get("/console")
    assert redirect.status_code in (307, 308) and redirect.headers["location"] == "/console/"
    page = await api.get("/console/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', page.text)
    assert len(assets) == 2, page.text  # the script and the stylesheet
    for asset in assets:
        response = await api.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    assert (await api.get("/console/nothing-here.js")).status_code == 404


async def test_node_types_list_the_registry_with_schemas(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    types = (await owner("{ nodeTypes { type description dataSchema handles } }"))["nodeTypes"]
    assert [t["type"] for t in types] == list(REGISTRY)
    by_type = {t["type"]: t for t in types}
    assert by_type["message"]["dataSchema"]["required"] == ["content"]
    assert by_type["button"]["handles"] == ["default", "timeout", "invalid"]
    assert "options" in by_type["button"]["dataSchema"]["properties"]
    assert by_type["api"]["handles"] == ["default", "error"] and by_type["end"]["handles"] == []
    assert all(t["description"] for t in types)


async def test_without_a_bundle_the_console_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "CONSOLE_DIR", tmp_path)
    app = FastAPI()
    console.mount_console(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        page = await http.get("/console/")
    assert page.status_code == 503 and "npm run build" in page.text
