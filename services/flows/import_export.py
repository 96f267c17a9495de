"""Import and export in the seeds' formats.

- one flow: `{"version": "1.0.0", "exportDate": ..., "flow": {name, nodes, edges, ...}}`
- several flows: a ZIP of such files plus `metadata.json` `{exportDate, flowCount, flows}`
- a bot: `{"version", "exportDate", "bot": {name, description, settings, defaultFlow},
  "flows": [flow, ...]}` (`defaultFlow` names one of the flows)

Reading a file finds every problem (format, each flow's validation) before anything is written;
`ImportProblems` carries them all.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang.graph import EXPORT_VERSION, FlowDefinition, FlowExport
from flowlang.validation import validate_flow
from models.bot_tables import Bot
from models.errors import InvalidInput, pydantic_problems
from models.flow_tables import Flow
from models.text import unstorable_path
from services.bots.management import new_bot
from services.flows.drafts import draft_definition, flow_names, free_name, new_flow, publish

METADATA_FILE = "metadata.json"
MAX_ZIP_ENTRIES = 500
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024
IMPORT_MESSAGE = "Imported from a file"


def file_stem(name: str) -> str:
    """The seeds' file name for a flow or bot: every character but a-z, 0-9 becomes `_`."""
    return re.sub(r"[^a-z0-9]", "_", name, flags=re.IGNORECASE) or "flow"


def flow_definition(flow: Flow) -> FlowDefinition:
    """The flow's draft with its current name, description, trigger and priority."""
    return FlowDefinition.model_validate(
        draft_definition(
            flow.definition,
            name=flow.name,
            description=flow.description,
            trigger=flow.trigger,
            priority=flow.priority,
        )
    )


def flow_export(flow: Flow, export_date: str) -> dict[str, Any]:
    return flow_definition(flow).to_export(export_date)


def flows_zip(flows: list[Flow], export_date: str) -> bytes:
    """A ZIP with one export file per flow and `metadata.json`."""
    buffer, used = io.BytesIO(), set[str]()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for flow in flows:
            stem = name = file_stem(flow.name)
            while name in used:
                name = f"{stem}_{len(used)}"
            used.add(name)
            archive.writestr(f"{name}.json", json.dumps(flow_export(flow, export_date), indent=2))
        metadata = {
            "exportDate": export_date,
            "flowCount": len(flows),
            "flows": [{"id": str(f.id), "name": f.name} for f in flows],
        }
        archive.writestr(METADATA_FILE, json.dumps(metadata, indent=2))
    return buffer.getvalue()


def bot_export(bot: Bot, flows: list[Flow], export_date: str) -> dict[str, Any]:
    default = next((f.name for f in flows if f.id == bot.default_flow_id), None)
    return {
        "version": EXPORT_VERSION,
        "exportDate": export_date,
        "bot": {
            "name": bot.name,
            "description": bot.description,
            "settings": bot.settings,
            "defaultFlow": default,
        },
        "flows": [flow_definition(flow).to_json() for flow in flows],
    }


# --- reading files ----------------------------------------------------------------------------


class ImportProblems(InvalidInput):
    """A file that cannot be imported; `problems` lists every reason, by file and flow."""


@dataclass
class _Reader:
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add(self, file: str, message: str, **where: Any) -> None:
        self.problems.append({"file": file, "message": f"{file}: {message}", **where})

    def json(self, file: str, data: bytes) -> Any:
        try:
            value = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            self.add(file, "is not UTF-8 text")
        except json.JSONDecodeError as error:
            self.add(file, f"is not valid JSON ({error.msg} at line {error.lineno})")
        except RecursionError:
            self.add(file, "is nested too deeply")
        else:
            if (where := unstorable_path(value, "")) is None:
                return value
            self.add(file, f"`{where}` holds a NUL character or an unpaired surrogate")
        return None

    def model(self, file: str, model: type[BaseModel], value: Any) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as error:
            for problem in pydantic_problems(error):
                self.add(file, problem["message"], field=problem["field"])
        return None

    def flow(self, file: str, definition: FlowDefinition) -> FlowDefinition:
        for problem in validate_flow(definition):
            self.add(
                file,
                f"flow {definition.name!r}: {problem.message}",
                flow=definition.name,
                code=problem.code,
                nodeId=problem.node_id,
                edgeId=problem.edge_id,
            )
        return definition

    def unique(self, file: str, flows: list[FlowDefinition]) -> None:
        names = [flow.name for flow in flows]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.add(file, f"two flows are named {name!r}", flow=name)

    def finish(self, what: str) -> None:
        if self.problems:
            count = len(self.problems)
            raise ImportProblems(
                f"the {what} cannot be imported ({count} problem{'s' * (count > 1)}); nothing "
                "was written: " + "; ".join(p["message"] for p in self.problems),
                self.problems,
            )


def read_flows_file(data: bytes, filename: str) -> list[FlowDefinition]:
    """The flows of a one-flow JSON export or a ZIP of them, or every problem at once."""
    reader = _Reader()
    flows: list[FlowDefinition] = []
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            flows = _read_zip(reader, data, filename)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
            reader.add(filename, f"is not a readable ZIP archive ({err})")
    else:
        value = reader.json(filename, data)
        if isinstance(value, dict) and "bot" in value:
            reader.add(filename, "is a bot configuration; import it as a bot")
        elif value is not None:
            export = reader.model(filename, FlowExport, value)
            flows = [reader.flow(filename, export.flow)] if export else []
    reader.unique(filename, flows)
    reader.finish("file")
    return flows


def _read_zip(reader: _Reader, data: bytes, filename: str) -> list[FlowDefinition]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = [
            e
            for e in archive.infolist()
            if not e.is_dir() and not e.filename.startswith("__MACOSX/")
        ]
        if len(entries) > MAX_ZIP_ENTRIES:
            reader.add(filename, f"has more than {MAX_ZIP_ENTRIES} files")
            return []
        if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
            reader.add(filename, f"unpacks to more than {MAX_UNZIPPED_BYTES} bytes")
            return []
        names = {e.filename.rsplit("/", 1)[-1]: e for e in entries}
        metadata = None
        if METADATA_FILE in names:
            metadata = reader.json(METADATA_FILE, archive.read(names[METADATA_FILE]))
        else:
            reader.add(filename, f"has no {METADATA_FILE}")
        flows: list[FlowDefinition] = []
        for name, entry in sorted(names.items()):
            if name == METADATA_FILE or not name.endswith(".json"):
                continue
            export = reader.model(name, FlowExport, reader.json(name, archive.read(entry)))
            if export is not None:
                flows.append(reader.flow(name, export.flow))
    count = metadata.get("flowCount") if isinstance(metadata, dict) else None
    if isinstance(count, int) and count != len(flows):
        reader.add(METADATA_FILE, f"announces {count} flows but the archive holds {len(flows)}")
    if not flows and not reader.problems:
        reader.add(filename, "holds no flow files")
    return flows


class _BotPart(BaseModel):
    name: str = Field(min_length=1)
    description: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    default_flow: str | None = Field(default=None, alias="defaultFlow")


class BotConfig(BaseModel):
    """A whole bot configuration file."""

    version: str
    export_date: str | None = Field(default=None, alias="exportDate")
    bot: _BotPart
    flows: list[FlowDefinition]


def read_bot_file(data: bytes, filename: str) -> BotConfig:
    """The bot configuration in a file, or every problem at once."""
    reader = _Reader()
    config = reader.model(filename, BotConfig, reader.json(filename, data))
    if config is not None:
        for flow in config.flows:
            reader.flow(filename, flow)
        reader.unique(filename, config.flows)
        default = config.bot.default_flow
        if default is not None and default not in {flow.name for flow in config.flows}:
            reader.add(filename, f"the default flow {default!r} is not one of its flows")
    reader.finish("bot configuration")
    return config


# --- writing what was read --------------------------------------------------------------------


async def import_flows(
    session: AsyncSession,
    bot: Bot,
    flows: list[FlowDefinition],
    *,
    publish_them: bool,
    created_by: uuid.UUID | None,
) -> list[Flow]:
    """Create the flows as drafts in the bot (renamed `X (imported)` on a clash)."""
    taken = await flow_names(session, bot.id)
    created = []
    for definition in flows:
        name = free_name(definition.name, taken, "imported")
        taken.add(name)
        flow = await new_flow(
            session,
            bot,
            name,
            description=definition.description,
            definition=definition.to_json(),
            trigger=definition.trigger_rule.model_dump(),
            priority=definition.priority,
        )
        if publish_them:
            await publish(session, flow, IMPORT_MESSAGE, created_by)
        created.append(flow)
    return created


async def import_bot(
    session: AsyncSession,
    organization_id: uuid.UUID,
    config: BotConfig,
    *,
    publish_them: bool,
    created_by: uuid.UUID | None,
) -> tuple[Bot, list[Flow]]:
    """A new bot with the configuration's flows and default flow."""
    taken = set(
        await session.scalars(select(Bot.name).where(Bot.organization_id == organization_id))
    )
    bot = await new_bot(
        session,
        organization_id,
        free_name(config.bot.name, taken, "imported"),
        config.bot.description,
        config.bot.settings,
    )
    flows = await import_flows(
        session, bot, config.flows, publish_them=publish_them, created_by=created_by
    )
    for definition, flow in zip(config.flows, flows, strict=True):
        if definition.name == config.bot.default_flow:
            bot.default_flow_id = flow.id
    await session.flush()
    await session.refresh(bot)
    return bot, flows
