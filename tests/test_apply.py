"""Bots as code: `botbuilder apply -f bot.yaml` and `botbuilder export BOT`, run through `main`."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from flowlang.templates import default_templates
from models.bot_tables import Bot, Channel
from models.db import make_session_factory
from models.flow_tables import Flow, FlowVersion
from models.secret_box import SecretBox
from models.tenancy_tables import Organization
from services.bots.file import load_bot_file
from services.bots.publishing import add_channel
from stack.cli import main
from tests.helpers import make_web_bot

PUBLIC_URL = "https://bots.example.com"
SECRET_KEY = "apply-test-key"
SECRETS = {
    "WA_ACCESS_TOKEN": "EAAG-access-token-value",
    "WA_APP_SECRET": "app-secret-value-123",
    "WA_VERIFY_TOKEN": "verify-token-value-456",
    "TWILIO_AUTH_TOKEN": "twilio-auth-token-789",
}
BOT_YAML = """\
organization: acme
bot:
  name: Support
  description: Customer service on WhatsApp and the website
  settings:
    inactivity_timeout_seconds: 3600
  default_flow: welcome
channels:
  whatsapp:
    kind: whatsapp_cloud
    config:
      phone_number_id: "106540352242922"
      business_account_id: "102290129340398"
      reengagement_template: {name: hello_again, language: es}
    secrets:
      access_token: WA_ACCESS_TOKEN
      app_secret: WA_APP_SECRET
      verify_token: WA_VERIFY_TOKEN
  site:
    kind: web
  sms:
    kind: twilio
    config: {account_sid: AC0123456789abcdef0123456789abcdef, from_number: "+15550001111"}
    secrets: {auth_token: TWILIO_AUTH_TOKEN}
flows:
  welcome:
    file: flows/welcome.json
    trigger: {type: default}
  orders:
    description: Order status by number
    trigger: {type: keyword, keywords: [order, pedido]}
    priority: 10
    definition:
      nodes:
        - {id: ask, type: question, data: {content: "Your order number?", variable: order}}
        - {id: answer, type: message, data: {content: "Order {{order}} is on its way."}}
      edges:
        - {id: e1, source: ask, target: answer}
"""


@pytest.fixture
def workdir(
    migrated_url: str, clean_db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """A folder holding bot.yaml and flows/welcome.json (a seed export), with the CLI's env."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("BOTBUILDER_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("BOTBUILDER_PUBLIC_URL", PUBLIC_URL)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    template = next(t for t in default_templates() if t.slug == "customer-service-basic")
    (tmp_path / "flows").mkdir()
    export = template.definition.to_export("2026-11-23T08:00:00.000Z")
    (tmp_path / "flows" / "welcome.json").write_text(json.dumps(export, ensure_ascii=False))
    (tmp_path / "bot.yaml").write_text(BOT_YAML)
    return tmp_path


async def botbuilder(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `botbuilder ARGS` in-process (in a thread: it runs its own event loop)."""

    def run() -> int:
        try:
            main(list(args))
        except SystemExit as exit_:
            return int(exit_.code or 0)
        raise AssertionError("main() did not exit")

    code = await asyncio.to_thread(run)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Everything apply may write, in comparable form (secrets decrypted)."""

    def opened(channel: Channel) -> dict[str, Any] | None:
        sealed = channel.secrets_encrypted
        return SecretBox(SECRET_KEY).decrypt(sealed) if sealed else None

    async with make_session_factory(engine)() as session:
        orgs = (await session.scalars(select(Organization.slug))).all()
        bots = (await session.scalars(select(Bot))).all()
        channels = (await session.scalars(select(Channel).order_by(Channel.name))).all()
        flows = (await session.scalars(select(Flow).order_by(Flow.name))).all()
        versions = (
            await session.execute(
                select(Flow.name, func.count(FlowVersion.id))
                .join(FlowVersion, FlowVersion.flow_id == Flow.id)
                .group_by(Flow.name)
            )
        ).all()
    return {
        "organizations": sorted(orgs),
        "bots": [
            (b.name, b.description, b.settings, b.default_flow_id, b.updated_at) for b in bots
        ],
        "channels": {c.name: (c.kind, c.config, c.secret_env, opened(c)) for c in channels},
        "flows": [(f.name, f.trigger, f.priority, f.definition, f.updated_at) for f in flows],
        "versions": dict(versions),
    }


async def test_apply_creates_everything_prints_webhooks_and_a_second_apply_changes_nothing(
    workdir: Path, db_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await botbuilder(capsys, "apply", "-f", str(workdir / "bot.yaml"))
    assert (code, err) == (0, "")
    assert "organization acme: created" in out
    assert "bot Support: created" in out
    assert "channel whatsapp (whatsapp_cloud): created" in out
    assert "flow welcome: created, published v1" in out
    assert "flow orders: created, published v1" in out

    async with make_session_factory(db_engine)() as session:
        bot = await session.scalar(
            select(Bot).join(Organization).where(Organization.slug == "acme")
        )
        assert bot is not None and bot.name == "Support"
        assert bot.settings == {"inactivity_timeout_seconds": 3600}
        channels = {c.name: c for c in await session.scalars(select(Channel))}
        flows = {f.name: f for f in await session.scalars(select(Flow))}
    whatsapp, site = channels["whatsapp"], channels["site"]
    assert whatsapp.config == {
        "phone_number_id": "106540352242922",
        "business_account_id": "102290129340398",
        "reengagement_template": {"name": "hello_again", "language": "es"},
    }
    assert SecretBox(SECRET_KEY).decrypt(whatsapp.secrets_encrypted or "") == {
        "access_token": SECRETS["WA_ACCESS_TOKEN"],
        "app_secret": SECRETS["WA_APP_SECRET"],
        "verify_token": SECRETS["WA_VERIFY_TOKEN"],
    }
    assert site.kind == "web" and site.secrets_encrypted is None
    assert bot.default_flow_id == flows["welcome"].id
    assert flows["welcome"].definition["nodes"][0]["data"]["content"].startswith("¡Hola! 👋")
    assert flows["orders"].trigger == {
        "type": "keyword",
        "keywords": ["order", "pedido"],
        "pattern": None,
    }
    assert flows["orders"].priority == 10 and flows["orders"].published_version_id
    assert f"{PUBLIC_URL}/channels/whatsapp/{whatsapp.id}/webhook" in out
    assert f"{PUBLIC_URL}/channels/web/{site.id}/messages" in out
    sms = channels["sms"]
    assert re.search(rf"sms +webhook +{PUBLIC_URL}/channels/twilio/{sms.id}/webhook\n", out)
    assert re.search(rf"sms +status_callback +{PUBLIC_URL}/channels/twilio/{sms.id}/status", out)
    assert not any(value in out for value in SECRETS.values())

    before = await snapshot(db_engine)
    code, out, _ = await botbuilder(capsys, "apply", "-f", str(workdir / "bot.yaml"))
    assert code == 0
    assert "flow orders: unchanged" in out and "bot Support: unchanged" in out
    assert "channel whatsapp (whatsapp_cloud): unchanged" in out
    assert "No changes" in out and "created" not in out and "published" not in out
    assert f"{PUBLIC_URL}/channels/whatsapp/{whatsapp.id}/webhook" in out
    assert await snapshot(db_engine) == before
    assert before["versions"] == {"welcome": 1, "orders": 1}


async def test_an_edited_flow_gets_one_new_version_and_a_rotated_secret_is_reencrypted(
    workdir: Path,
    db_engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot_file = workdir / "bot.yaml"
    assert (await botbuilder(capsys, "apply", "-f", str(bot_file)))[0] == 0
    edited = BOT_YAML.replace("is on its way.", "ships tomorrow.")
    bot_file.write_text(edited.replace("default_flow: welcome", "default_flow: orders"))
    monkeypatch.setenv("WA_ACCESS_TOKEN", "rotated-access-token")
    before = await snapshot(db_engine)

    code, out, _ = await botbuilder(capsys, "apply", "--dry-run", "-f", str(bot_file))
    assert code == 0 and "Dry run" in out
    assert "flow orders: updated (definition), published v2" in out
    assert "channel whatsapp (whatsapp_cloud): updated (secrets updated)" in out
    assert await snapshot(db_engine) == before

    code, out, _ = await botbuilder(capsys, "apply", "-f", str(bot_file))
    assert code == 0
    assert "flow orders: updated (definition), published v2" in out
    assert "flow welcome: unchanged" in out
    assert "bot Support: updated (default flow)" in out
    assert "rotated-access-token" not in out
    after = await snapshot(db_engine)
    assert after["versions"] == {"welcome": 1, "orders": 2}
    assert after["channels"]["whatsapp"][3]["access_token"] == "rotated-access-token"
    async with make_session_factory(db_engine)() as session:
        flow = await session.scalar(select(Flow).where(Flow.name == "orders"))
        assert flow is not None and flow.published_version_id is not None
        published = await session.get_one(FlowVersion, flow.published_version_id)
    assert published.version == 2
    assert published.definition["nodes"][1]["data"]["content"] == "Order {{order}} ships tomorrow."


async def test_every_flow_problem_is_reported_and_nothing_is_written(
    workdir: Path, db_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    bot_file = workdir / "bot.yaml"
    assert (await botbuilder(capsys, "apply", "-f", str(bot_file)))[0] == 0
    before = await snapshot(db_engine)
    broken = (
        BOT_YAML.replace("Customer service on", "Changed, on")
        .replace("type: question", "type: questio")
        .replace("target: answer}", "target: nowhere}")
    )
    bot_file.write_text(broken)
    welcome = json.loads((workdir / "flows" / "welcome.json").read_text())
    welcome["flow"]["edges"].append({"id": "e-bad", "source": "menu", "target": "ghost"})
    (workdir / "flows" / "welcome.json").write_text(json.dumps(welcome))

    code, out, err = await botbuilder(capsys, "apply", "-f", str(bot_file))
    assert code == 1 and out == ""
    assert "nothing was written" in err and "Traceback" not in err
    assert "flows.orders: node 'ask' has the unknown type 'questio' [unknown_node_type]" in err
    assert "flows.orders: edge 'e1' has target 'nowhere', which is not a node" in err
    assert "flows.welcome: edge 'e-bad' has target 'ghost', which is not a node" in err
    assert await snapshot(db_engine) == before


async def test_a_missing_environment_variable_is_named_and_nothing_is_written(
    workdir: Path,
    db_engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WA_APP_SECRET")
    monkeypatch.setenv("WA_VERIFY_TOKEN", "")
    code, out, err = await botbuilder(capsys, "apply", "-f", str(workdir / "bot.yaml"))
    assert code == 1 and out == ""
    assert (
        "channels.whatsapp.secrets.app_secret: environment variable WA_APP_SECRET is not set" in err
    )
    assert (
        "channels.whatsapp.secrets.verify_token: environment variable WA_VERIFY_TOKEN is empty"
        in err
    )
    assert SECRETS["WA_ACCESS_TOKEN"] not in err
    assert (await snapshot(db_engine))["organizations"] == []


async def test_a_malformed_file_gets_every_error_with_its_place(
    workdir: Path, db_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    bot_file = workdir / "bot.yaml"
    bot_file.write_text(
        BOT_YAML.replace("trigger: {type: default}", "triger: {type: default}")
        .replace('"106540352242922"', '"not-a-number"')
        .replace("  description: Customer", "  desc: Customer")
        .replace("WA_VERIFY_TOKEN", "verify token pasted here")
    )
    code, _, err = await botbuilder(capsys, "apply", "-f", str(bot_file))
    assert code == 1 and "Traceback" not in err
    assert "bot.desc: Extra inputs are not permitted" in err
    assert "flows.welcome.triger: Extra inputs are not permitted" in err
    assert "channels.whatsapp.secrets.verify_token: must be the name of an " in err
    assert "verify token pasted here" not in err

    bot_file.write_text(BOT_YAML.replace("triger", "trigger").replace("  site:", "  whatsapp:"))
    code, _, err = await botbuilder(capsys, "apply", "-f", str(bot_file))
    assert code == 1 and "duplicate key 'whatsapp'" in err and "line 19" in err

    bot_file.write_text(
        BOT_YAML.replace('"106540352242922"', '"not-a-number"').replace(
            '"+15550001111"', "+15550001111"
        )
    )
    code, _, err = await botbuilder(capsys, "apply", "-f", str(bot_file))
    assert code == 1 and "channels.whatsapp.config.phone_number_id: String should match" in err
    assert "channels.sms.config.from_number: Input should be a valid string (quote numbers" in err
    assert (await snapshot(db_engine))["organizations"] == []


async def test_export_then_apply_changes_nothing_and_the_export_holds_no_secret(
    workdir: Path, db_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await botbuilder(capsys, "apply", "-f", str(workdir / "bot.yaml")))[0] == 0
    before = await snapshot(db_engine)

    code, exported, _ = await botbuilder(capsys, "export", "Support")
    assert code == 0
    assert not any(value in exported for value in SECRETS.values())
    assert "access_token: WA_ACCESS_TOKEN" in exported and "¡Hola! 👋" in exported
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    code, _, err = await botbuilder(capsys, "export", "Support", "-o", str(elsewhere / "b.yaml"))
    assert code == 0 and "wrote" in err
    assert (elsewhere / "b.yaml").read_text() == exported

    code, out, _ = await botbuilder(capsys, "apply", "-f", str(elsewhere / "b.yaml"))
    assert code == 0 and "No changes" in out
    assert await snapshot(db_engine) == before

    code, _, err = await botbuilder(capsys, "export", "Nobody")
    assert code == 1 and err == "error: no bot 'Nobody'\n"


async def test_a_bot_made_elsewhere_exports_with_conventional_secret_names(
    workdir: Path,
    db_engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    template = next(t for t in default_templates() if t.slug == "customer-service-basic")
    bot_id, _ = await make_web_bot(db_engine, template.definition.model_dump(mode="json"))
    wa_secrets = {"access_token": "tok", "app_secret": "app", "verify_token": "ver"}
    async with make_session_factory(db_engine).begin() as session:
        await add_channel(
            session,
            bot_id,
            "whatsapp_cloud",
            "WhatsApp Main",
            {"phone_number_id": "1234", "business_account_id": None},
            SecretBox(SECRET_KEY).encrypt(wa_secrets),
        )
    before = await snapshot(db_engine)

    code, exported, _ = await botbuilder(capsys, "export", bot_id)
    assert code == 0 and "access_token: WHATSAPP_MAIN_ACCESS_TOKEN" in exported
    (workdir / "made-elsewhere.yaml").write_text(exported)
    for key, value in wa_secrets.items():
        monkeypatch.setenv(f"WHATSAPP_MAIN_{key.upper()}", value)
    code, out, _ = await botbuilder(capsys, "apply", "-f", str(workdir / "made-elsewhere.yaml"))
    assert code == 0
    assert "channel WhatsApp Main (whatsapp_cloud): updated (secret variable names)" in out
    assert "flow" in out and "published" not in out
    after = await snapshot(db_engine)
    assert after["versions"] == before["versions"] and after["flows"] == before["flows"]


def readme_block(after: str) -> str:
    """The first fenced block after the text `after` in the README (without its fences)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    found = re.search(r"```[a-z]*\n(.*?)```", readme[readme.index(after) :], re.S)
    assert found is not None, f"no code block after {after!r}"
    return found.group(1)


async def test_the_readme_example_applies_and_prints_what_the_readme_shows(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTBUILDER_PUBLIC_URL", "https://bots.acme.example")
    for name in ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    (workdir / "bot.yaml").write_text(readme_block("`bot.yaml`:"))
    (workdir / "flows" / "welcome.json").write_text(readme_block("`flows/welcome.json`, next"))
    shown = readme_block("The first apply").removeprefix("$ botbuilder apply -f bot.yaml\n")

    code, out, _ = await botbuilder(capsys, "apply", "-f", "bot.yaml")
    assert code == 0
    uuid_pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.sub(uuid_pattern, "ID", out) == re.sub(uuid_pattern, "ID", shown)


def test_top_level_x_keys_hold_yaml_anchors(tmp_path: Path) -> None:
    bot_file = tmp_path / "bot.yaml"
    bot_file.write_text(
        "x-web: &web {kind: web}\norganization: acme\nbot: {name: B}\n"
        "channels:\n  one: *web\n  two: {<<: *web}\n"
    )
    assert [c.name for c in load_bot_file(bot_file, {}).channels] == ["one", "two"]


async def test_sensitive_data_is_applied_and_exported(
    workdir: Path, db_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    marked = workdir / "sensitive.yaml"
    flag = "  sensitive_data: true\n  default_flow:"
    marked.write_text(BOT_YAML.replace("  default_flow:", flag))
    code, out, _ = await botbuilder(capsys, "apply", "-f", str(marked))
    assert code == 0
    async with make_session_factory(db_engine)() as session:
        assert await session.scalar(select(Bot.sensitive_data)) is True
    code, exported, _ = await botbuilder(capsys, "export", "Support")
    assert code == 0 and "sensitive_data: true" in exported
    code, out, _ = await botbuilder(capsys, "apply", "-f", str(workdir / "bot.yaml"))
    assert code == 0 and "sensitive data" in out
