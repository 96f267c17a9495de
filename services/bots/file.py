"""The bots-as-code file (`botbuilder apply -f bot.yaml`): its schema, loading and writing.

A file describes one bot of one organization: its name, description and settings, its channels
by name (kind, plain config, secrets as the NAMES of environment variables) and its flows by
name (definition inline or in a JSON file next to the YAML, trigger, priority). Loading checks
everything that needs no database and reports every problem at once, each with its place in
the file (`channels.whatsapp.config.phone_number_id: ...`, `flows.welcome: node 'ask' ...`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    model_validator,
)

from channels.config import CONFIG_MODELS, SECRET_MODELS, ChannelKind
from flowlang.graph import FlowDefinition, FlowTrigger
from flowlang.validation import validate_flow

MERGE_TAG = "tag:yaml.org,2002:merge"
# Flow fields written beside a flow's definition in the file, not inside it.
ENTRY_FIELDS = ("name", "description", "trigger", "keywords", "pattern", "priority")


class BotFileError(ValueError):
    """A file that cannot be applied; `problems` lists every reason, each with its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):  # the message never echoes the value
        raise ValueError("must be the name of an environment variable, not the secret itself")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerEntry(FlowTrigger):
    """`{type, keywords, pattern}`, as stored in a flow's `trigger`."""

    model_config = ConfigDict(extra="forbid")


class ChannelEntry(_Strict):
    kind: ChannelKind
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, Annotated[str, AfterValidator(_env_name)]] = Field(default_factory=dict)


class FlowEntry(_Strict):
    """A flow: `definition` inline or `file` (relative to the YAML); the rest override it."""

    description: str | None = None
    trigger: TriggerEntry | None = None
    priority: int | None = None
    file: str | None = None
    definition: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FlowEntry:
        if (self.file is None) == (self.definition is None):
            raise ValueError("give exactly one of `file` and `definition`")
        return self


class BotEntry(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    sensitive_data: bool = False
    default_flow: str | None = None


class BotFile(_Strict):
    organization: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="slug")
    bot: BotEntry
    channels: dict[str, ChannelEntry] = Field(default_factory=dict)
    flows: dict[str, FlowEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_flow_exists(self) -> BotFile:
        default = self.bot.default_flow
        if default is not None and default not in self.flows:
            raise ValueError(f"bot.default_flow {default!r} is not one of the file's flows")
        return self


@dataclass(frozen=True)
class DesiredChannel:
    name: str
    kind: str
    config: dict[str, Any]
    secret_env: dict[str, str]
    secrets: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class DesiredFlow:
    """A flow as apply stores it: the canonical definition carries trigger and priority too."""

    name: str
    definition: dict[str, Any]

    @property
    def trigger(self) -> dict[str, Any]:
        return FlowDefinition.model_validate(self.definition).trigger_rule.model_dump()

    @property
    def priority(self) -> int:
        return int(self.definition["priority"])

    @property
    def description(self) -> str:
        return str(self.definition["description"])


@dataclass(frozen=True)
class DesiredBot:
    organization: str
    name: str
    description: str
    settings: dict[str, Any]
    sensitive_data: bool
    default_flow: str | None
    channels: list[DesiredChannel]
    flows: list[DesiredFlow]


def load_bot_file(path: Path, environ: Mapping[str, str]) -> DesiredBot:
    """The bot a file describes, secrets read from `environ`; `BotFileError` lists problems."""
    try:
        raw = yaml.load(path.read_text("utf-8"), Loader=_UniqueKeyLoader)
    except OSError as error:
        raise BotFileError([f"cannot read the file: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        raise BotFileError([f"{path}: {error}"]) from None
    if not isinstance(raw, dict):
        raise BotFileError([f"{path}: expected a mapping with organization, bot, channels, flows"])
    raw = {k: v for k, v in raw.items() if not str(k).startswith("x-")}  # anchors' home
    try:
        parsed = BotFile.model_validate(raw)
    except ValidationError as error:
        raise BotFileError(readable(error)) from None
    problems: list[str] = []
    channels = [_channel(name, e, environ, problems) for name, e in parsed.channels.items()]
    flows = [_flow(name, e, path.parent, problems) for name, e in parsed.flows.items()]
    if problems:
        raise BotFileError(problems)
    return DesiredBot(
        organization=parsed.organization,
        name=parsed.bot.name,
        description=parsed.bot.description,
        settings=parsed.bot.settings,
        sensitive_data=parsed.bot.sensitive_data,
        default_flow=parsed.bot.default_flow,
        channels=channels,
        flows=[flow for flow in flows if flow is not None],
    )


def readable(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """One line per pydantic error, `where: what`; the offending input is never shown."""
    lines = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in (*prefix, *detail["loc"]))
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "string_type" and isinstance(detail["input"], int | float):
            message += ' (quote numbers meant as text: "123")'
        lines.append(f"{where}: {message}" if where else message)
    return lines


def _channel(
    name: str, entry: ChannelEntry, environ: Mapping[str, str], problems: list[str]
) -> DesiredChannel:
    where = ("channels", name)
    config: dict[str, Any] = {}
    try:
        config = normal_config(entry.kind, entry.config)
    except ValidationError as error:
        problems.extend(readable(error, (*where, "config")))
    secret_fields = SECRET_MODELS[entry.kind].model_fields
    for key in (key for key in entry.secrets if key not in secret_fields):
        expected = ", ".join(secret_fields) or "none"
        problems.append(f"channels.{name}.secrets.{key}: unknown secret (expected {expected})")
    for key in (key for key in secret_fields if key not in entry.secrets):
        problems.append(f"channels.{name}.secrets.{key}: missing: name its environment variable")
    secrets = {}
    for key, variable in entry.secrets.items():
        if environ.get(variable):
            secrets[key] = environ[variable]
        elif key in secret_fields:
            state = "is empty" if variable in environ else "is not set"
            problems.append(
                f"channels.{name}.secrets.{key}: environment variable {variable} {state}"
            )
    return DesiredChannel(name, entry.kind, config, dict(entry.secrets), secrets)


def normal_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A channel config checked against its kind's model, without unset optional fields."""
    return CONFIG_MODELS[kind].model_validate(config).model_dump(mode="json", exclude_none=True)


def _flow(name: str, entry: FlowEntry, folder: Path, problems: list[str]) -> DesiredFlow | None:
    where = f"flows.{name}"
    if entry.file is not None:
        try:
            source = json.loads((folder / entry.file).read_text("utf-8"))
        except OSError as error:
            problems.append(f"{where}.file: cannot read {entry.file}: {error.strerror}")
            return None
        except json.JSONDecodeError as error:
            problems.append(f"{where}.file: {entry.file} is not valid JSON: {error}")
            return None
    else:
        source = entry.definition
    if isinstance(source, dict) and isinstance(source.get("flow"), dict):
        source = source["flow"]  # the seeds' export file: {"version", "exportDate", "flow"}
    if not isinstance(source, dict):
        problems.append(f"{where}: the definition must be an object with nodes and edges")
        return None
    merged = with_entry_fields(
        source,
        name=name,
        description=entry.description,
        priority=entry.priority,
        trigger=entry.trigger.model_dump() if entry.trigger else None,
    )
    flow_problems = validate_flow(merged)
    problems.extend(f"{where}: {p.message} [{p.code}]" for p in flow_problems)
    return None if flow_problems else DesiredFlow(name, canonical_definition(merged))


def with_entry_fields(
    source: Mapping[str, Any],
    *,
    name: str,
    description: str | None = None,
    trigger: Mapping[str, Any] | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """`source` with the flow's name and whichever of description, trigger, priority are given."""
    merged = {**source, "name": name}
    if description is not None:
        merged["description"] = description
    if trigger is not None:
        rule = FlowTrigger.model_validate(trigger)
        merged.update(trigger=rule.type, keywords=rule.keywords, pattern=rule.pattern)
    if priority is not None:
        merged["priority"] = priority
    return merged


def canonical_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The one spelling of a definition that apply stores and compares."""
    return FlowDefinition.model_validate(definition).to_json()


def dump_bot_file(data: Mapping[str, Any]) -> str:
    """YAML text of a bot file; multi-line texts as `|` blocks so diffs stay readable."""
    return yaml.dump(dict(data), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True)


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key repeated in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                continue  # `<<: *defaults` may be overridden; odd keys are refused by the base
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _BlockDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a file people read and edit: no `&id001` anchors

    def represent_str(self, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_BlockDumper.add_representer(str, _BlockDumper.represent_str)
