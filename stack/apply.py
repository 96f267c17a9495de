"""`botbuilder apply -f FILE` and `botbuilder export BOT`: bots as code from the terminal or CI."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError, OperationalError

from channels.config import webhook_urls
from models.db import make_engine, make_session_factory
from models.secret_box import SecretBox
from services.bots.export import BotNotFound, export_bot, find_bot
from services.bots.file import BotFileError, DesiredBot, dump_bot_file, load_bot_file
from services.bots.sync import AppliedChannel, ApplyReport, apply_bot
from stack import migrate


class CommandError(Exception):
    """A failure the user can fix; printed as `error: ...` lines, exit code 1."""


def run_apply(
    database_url: str,
    path: Path,
    *,
    public_url: str,
    secret_key: str,
    dry_run: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Apply the file (or only show the plan), print it and the webhook URLs; the exit code."""
    try:
        desired = load_bot_file(path, environ)
        _check_schema(database_url)
        report = asyncio.run(
            _apply(database_url, desired, SecretBox(secret_key), f"apply {path.name}", dry_run)
        )
    except BotFileError as error:
        return _fail(f"{path} cannot be applied; nothing was written:", *error.problems)
    except CommandError as error:
        return _fail(str(error))
    except IntegrityError:
        return _fail(
            "the bot changed while applying (another apply at the same time?); "
            "nothing was written: run apply again"
        )
    _print_report(report, public_url, dry_run)
    return 0


async def _apply(
    database_url: str, desired: DesiredBot, box: SecretBox, message: str, dry_run: bool
) -> ApplyReport:
    """One transaction: committed, or rolled back for a dry run."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            report = await apply_bot(session, desired, box, message)
            await (session.rollback() if dry_run else session.commit())
            return report
    finally:
        await engine.dispose()


def run_export(database_url: str, bot_ref: str, output: Path | None) -> int:
    """Write the bot's file to `output`, or to stdout; the exit code."""
    try:
        _check_schema(database_url)
        text = asyncio.run(_export(database_url, bot_ref))
    except (CommandError, BotNotFound) as error:
        return _fail(str(error))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, "utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0


async def _export(database_url: str, bot_ref: str) -> str:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            bot = await find_bot(session, bot_ref)
            return HEADER.format(bot=bot.name) + dump_bot_file(await export_bot(session, bot))
    finally:
        await engine.dispose()


HEADER = (
    "# Bot {bot!r}, written by `botbuilder export`; apply it with `botbuilder apply -f FILE`.\n"
    "# Channel secrets are the NAMES of environment variables holding them.\n"
)


def _print_report(report: ApplyReport, public_url: str, dry_run: bool) -> None:
    if dry_run:
        print("Dry run: the plan below was not written.")
    for step in report.steps:
        print(step)
    if not report.changed:
        print("No changes: the database already matches the file.")
    rows = [
        (channel.name, purpose, url)
        for channel in report.channels
        for purpose, url in _urls(channel, public_url, dry_run).items()
    ]
    if rows:
        print("Webhook URLs:")
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)] if rows else []
    for name, purpose, url in rows:
        print(f"  {name:<{widths[0]}}  {purpose:<{widths[1]}}  {url}".rstrip())


def _urls(channel: AppliedChannel, public_url: str, dry_run: bool) -> dict[str, str]:
    if dry_run and channel.created:
        return {"(known once applied)": ""}
    return webhook_urls(public_url, channel.kind, str(channel.id))


def _check_schema(database_url: str) -> None:
    """Refuse a database that the migrations have not brought up to date."""
    try:
        current = migrate.current(database_url)
    except OperationalError as error:
        raise CommandError(f"cannot reach the database: {error.orig}") from None
    config = migrate.alembic_config(database_url)
    if current != ScriptDirectory.from_config(config).get_current_head():
        raise CommandError(
            f"the database is at revision {current or 'none'}, not the latest: "
            "run `botbuilder migrate` first"
        )


def _fail(*lines: str) -> int:
    print(f"error: {lines[0]}", *(f"  - {line}" for line in lines[1:]), sep="\n", file=sys.stderr)
    return 1
