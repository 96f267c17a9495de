"""Import and export over HTTP in the seeds' formats; broken files are refused whole."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.templates import TEMPLATE_SLUGS, default_templates
from models.bot_tables import Bot
from models.db import make_session_factory
from models.flow_tables import Flow, FlowVersion
from tests.api_fixtures import CREATE_BOT, CREATE_FLOW, SET_DEFAULT, edge, greeting_flow, message
from tests.graphql_client import GraphQL, sign_up

SEED_FILES = {  # the seeds' own export shape, for each valid built-in template
    t.slug: {
        "version": "1.0.0",
        "exportDate": "2024-01-01T00:00:00.000Z",
        "flow": t.definition.to_json(),
    }
    for t in default_templates()
    if t.slug != "ai-tech-support"
}


def auth(client: GraphQL) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


async def upload(
    api: httpx.AsyncClient, client: GraphQL, url: str, content: bytes, name: str = "f.json"
) -> httpx.Response:
    return await api.post(url, files={"file": (name, content)}, headers=auth(client))


def zip_of(files: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in files.items():
            archive.writestr(name, value if isinstance(value, str) else json.dumps(value))
    return buffer.getvalue()


async def counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with make_session_factory(engine)() as session:
        return tuple(  # type: ignore[return-value]
            [
                await session.scalar(select(func.count()).select_from(t))
                for t in (Bot, Flow, FlowVersion)
            ]
        )


async def new_bot(owner: GraphQL, name: str = "Support") -> str:
    return (await owner(CREATE_BOT, name=name))["createBot"]["id"]


async def test_each_seed_flow_file_imports_and_publishes(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_up(api)
    bot = await new_bot(owner)
    for slug, export in SEED_FILES.items():
        response = await upload(
            api,
            owner,
            f"/api/bots/{bot}/flows/import?publish=true",
            json.dumps(export).encode(),
            f"{slug}.json",
        )
        assert response.status_code == 201, response.text
        [flow] = response.json()["flows"]
        assert flow["name"] == export["flow"]["name"] and flow["published_version_id"]
    names = await owner("query($id: ID!) { bot(id: $id) { flows { name } } }", id=bot)
    assert len(names["bot"]["flows"]) == len(TEMPLATE_SLUGS) - 1


async def test_flows_export_and_import_back_as_json_and_zip(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    bot = await new_bot(owner)
    flows = [
        (
            await owner(
                CREATE_FLOW,
                bot=bot,
                input={
                    "name": name,
                    "definition": greeting_flow(name),
                    "trigger": {"keywords": [name.lower()]},
                },
            )
        )["createFlow"]["id"]
        for name in ("Welcome", "Orders / FAQ")
    ]

    response = await api.get(f"/api/flows/{flows[0]}/export", headers=auth(owner))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="Welcome.json"'
    exported = response.json()
    assert exported["version"] == "1.0.0" and exported["exportDate"].endswith("Z")
    assert exported["flow"]["name"] == "Welcome" and exported["flow"]["keywords"] == ["welcome"]
    assert [n["id"] for n in exported["flow"]["nodes"]] == ["hi", "bye"]

    again = await upload(api, owner, f"/api/bots/{bot}/flows/import", response.content)
    assert again.status_code == 201
    assert again.json()["flows"][0]["name"] == "Welcome (imported)"
    assert again.json()["flows"][0]["published_version_id"] is None  # a draft by default

    archive = await api.post("/api/flows/export", json={"flow_ids": flows}, headers=auth(owner))
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert archive.headers["content-disposition"].startswith('attachment; filename="flows_export_')
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert sorted(opened.namelist()) == ["Orders___FAQ.json", "Welcome.json", "metadata.json"]
        metadata = json.loads(opened.read("metadata.json"))
    assert metadata["flowCount"] == 2
    assert [f["name"] for f in metadata["flows"]] == ["Welcome", "Orders / FAQ"]

    other_bot = await new_bot(owner, "Other")
    imported = await upload(
        api, owner, f"/api/bots/{other_bot}/flows/import", archive.content, "flows.zip"
    )
    assert imported.status_code == 201, imported.text
    assert sorted(f["name"] for f in imported.json()["flows"]) == ["Orders / FAQ", "Welcome"]
    assert await counts(db_engine) == (2, 5, 0)


async def test_a_bot_configuration_round_trips_with_its_default_flow(
    api: httpx.AsyncClient,
) -> None:
    owner, _ = await sign_up(api)
    bot = await new_bot(owner)
    main = {"name": "Main", "definition": greeting_flow(), "trigger": {"type": "default"}}
    flow = (await owner(CREATE_FLOW, bot=bot, input=main))["createFlow"]
    await owner(CREATE_FLOW, bot=bot, input={"name": "Side", "definition": greeting_flow("Side")})
    await owner(SET_DEFAULT, bot=bot, flow=flow["id"])

    response = await api.get(f"/api/bots/{bot}/export", headers=auth(owner))
    assert response.headers["content-disposition"] == 'attachment; filename="Support_config.json"'
    config = response.json()
    assert config["bot"] == {
        "name": "Support",
        "description": "Support bot",
        "settings": {},
        "defaultFlow": "Main",
    }
    assert [f["name"] for f in config["flows"]] == ["Main", "Side"]

    imported = await upload(api, owner, "/api/bots/import?publish=true", response.content)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["bot"]["name"] == "Support (imported)"
    main = next(f for f in body["flows"] if f["name"] == "Main")
    assert body["bot"]["default_flow_id"] == main["id"] and main["published_version_id"]


async def test_broken_files_are_refused_with_every_reason_and_nothing_written(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, _ = await sign_up(api)
    bot = await new_bot(owner)
    before = await counts(db_engine)
    good = SEED_FILES["customer-service-basic"]
    broken_flow = {
        "version": "1.0.0",
        "flow": {
            "name": "Broken",
            "nodes": [message("hi", "Hi"), {"id": "x", "type": "teleport", "data": {}}],
            "edges": [edge("e1", "hi", "nowhere")],
        },
    }
    config = {
        "version": "1.0.0",
        "bot": {"name": "B", "defaultFlow": "Missing"},
        "flows": [good["flow"], good["flow"]],
    }
    flows_url = f"/api/bots/{bot}/flows/import"
    cases: list[tuple[str, bytes, str, list[str]]] = [
        (flows_url, b"{not json", "a.json", ["is not valid JSON"]),
        (flows_url, json.dumps({"flow": good["flow"]}).encode(), "a.json", ["version: Field"]),
        (
            flows_url,
            json.dumps(broken_flow).encode(),
            "a.json",
            ["unknown type 'teleport'", "'nowhere', which is not a node"],
        ),
        (
            flows_url,
            zip_of({"good.json": good, "bad.json": broken_flow, "metadata.json": {"flowCount": 2}}),
            "z.zip",
            ["bad.json: flow"],
        ),
        (flows_url, zip_of({"good.json": good}), "z.zip", ["has no metadata.json"]),
        (
            flows_url,
            zip_of({"good.json": good, "metadata.json": {"flowCount": 3}}),
            "z.zip",
            ["announces 3 flows but the archive holds 1"],
        ),
        (flows_url, json.dumps(config).encode(), "c.json", ["is a bot configuration"]),
        (
            "/api/bots/import",
            json.dumps(config).encode(),
            "c.json",
            ["two flows are named", "default flow 'Missing' is not one of its flows"],
        ),
        ("/api/bots/import", json.dumps(good).encode(), "c.json", ["bot: Field required"]),
    ]
    for url, content, name, reasons in cases:
        response = await upload(api, owner, url, content, name)
        assert response.status_code == 422, (name, reasons, response.text)
        error = response.json()["error"]
        assert error["code"] == "BAD_USER_INPUT" and "nothing was written" in error["message"]
        for reason in reasons:
            assert any(reason in p["message"] for p in error["problems"]), (reason, error)
    assert await counts(db_engine) == before

    too_big = await upload(api, owner, flows_url, b" " * (11 * 1024 * 1024))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    anonymous = await api.post(flows_url, files={"file": ("a.json", b"{}")})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    assert await counts(db_engine) == before
