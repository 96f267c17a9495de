"""The `botbuilder` command line: up, api, worker, migrate, chat, conversation, apply, export,
admin, bench, webhooks listen."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from models.settings import Settings

if TYPE_CHECKING:
    from stack.embedded_postgres import EmbeddedPostgres

# The embedded server this command started: `main` stops it when the command ends.
STARTED: list[EmbeddedPostgres] = []


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server in the data folder (started if needed: then it
    runs until the command ends)."""
    if settings.database_url:
        return settings.database_url
    from stack.embedded_postgres import start_embedded_postgres

    server = start_embedded_postgres(settings.data_dir.resolve())
    if server.started:
        STARTED.append(server)
    return server.url


def command_up(settings: Settings, _args: argparse.Namespace) -> int:
    from stack.up import run_up

    return run_up(settings)


def command_api(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from graphql_api.app import create_app

    app = create_app(settings, resolve_database_url(settings))
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="warning")
    exit_without_finalizing(0)


def command_worker(settings: Settings, _args: argparse.Namespace) -> int:
    import uvloop

    from worker.main import run_worker

    # uvloop: the SDK's pollers, psycopg and aiohttp spend less CPU on the loop than asyncio's
    uvloop.run(run_worker(settings, resolve_database_url(settings)))
    exit_without_finalizing(0)


def exit_without_finalizing(code: int) -> NoReturn:
    """End a process that holds a Temporal client once it has shut down cleanly, skipping the
    interpreter's finalization: the Temporal core's native threads may still call into Python
    then ("Fatal Python error: PyGILState_Release", temporalio/sdk-python#300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def command_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from stack import migrate

    url = resolve_database_url(settings)
    if args.revision.startswith("-") or args.revision == "base":
        migrate.downgrade(url, args.revision)
    else:
        migrate.upgrade(url, args.revision)
    print(f"database at revision {migrate.current(url) or 'base'}")
    return 0


def command_chat(settings: Settings, args: argparse.Namespace) -> int:
    from stack.chat import chat

    api_url = args.api or settings.resolved_public_url()
    return asyncio.run(chat(resolve_database_url(settings), api_url, args.bot, args.contact))


def command_bench(_settings: Settings, args: argparse.Namespace) -> int:
    if args.channel == "whatsapp":
        from stack.wa_bench import options_from, whatsapp_bench

        return whatsapp_bench(options_from(args))
    from stack.bench import BenchOptions, bench

    return bench(
        BenchOptions(
            contacts=args.contacts,
            messages=args.messages,
            rate=args.rate or 100.0,
            waiting=args.waiting,
            workers=args.bench_workers,
            keep=args.keep,
            webhook=args.webhook,
        )
    )


def command_webhooks_listen(_settings: Settings, args: argparse.Namespace) -> int:
    from stack.webhook_listener import listen

    return listen(args.port, args.secret)


def command_apply(settings: Settings, args: argparse.Namespace) -> int:
    from stack.apply import run_apply

    url, public_url = resolve_database_url(settings), settings.resolved_public_url()
    secret_key = settings.resolved_secret_key()
    return run_apply(
        url, args.file, public_url=public_url, secret_key=secret_key, dry_run=args.dry_run
    )


def command_export(settings: Settings, args: argparse.Namespace) -> int:
    from stack.apply import run_export

    return run_export(resolve_database_url(settings), args.bot, args.output)


def command_admin(settings: Settings, args: argparse.Namespace) -> int:
    from stack.admin import run_admin

    return run_admin(resolve_database_url(settings), args.action, args.email)


def command_conversation(settings: Settings, args: argparse.Namespace) -> int:
    from stack.conversation_view import show_conversation

    url = resolve_database_url(settings)
    return asyncio.run(show_conversation(settings, url, args.contact, args.bot, args.messages))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="botbuilder", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="data folder (default ./.botbuilder)")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole platform on this machine")
    up.add_argument("--api-port", type=int, help="API port (default 8000)")
    up.add_argument("--temporal-port", type=int, help="embedded Temporal gRPC port (default 7233)")
    up.add_argument("--temporal-ui-port", type=int, help="embedded Temporal UI port (default 8233)")
    up.add_argument(
        "--temporal-metrics-port",
        type=int,
        help="embedded Temporal's Prometheus port (default 8234, 0: none)",
    )
    up.add_argument("--workers", type=int, help="worker processes to start (default 1)")
    up.add_argument(
        "--worker-metrics-port",
        type=int,
        help="Prometheus port of the first worker (default 9464, 0: none)",
    )
    up.set_defaults(handler=command_up)

    api = commands.add_parser("api", help="run only the API server")
    api.add_argument("--api-port", type=int, help="API port (default 8000)")
    api.set_defaults(handler=command_api)

    commands.add_parser("worker", help="run only a worker").set_defaults(handler=command_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head", help="target (default head)")
    migrate.set_defaults(handler=command_migrate)

    chat = commands.add_parser("chat", help="chat with a bot in the terminal (web channel)")
    chat.add_argument("bot", help="bot name or id, e.g. `demo`")
    chat.add_argument("--contact", help="contact id to chat as (default: a new one)")
    chat.add_argument("--api", help="API base URL (default: the public URL setting)")
    chat.set_defaults(handler=command_chat)

    conversation = commands.add_parser(
        "conversation", help="show a contact's conversation: state, messages, runs, links"
    )
    conversation.add_argument("contact", help="phone number or web id (as typed), or contact id")
    conversation.add_argument("--bot", help="only the conversation with this bot (name)")
    conversation.add_argument("--messages", type=int, default=10, help="messages shown (10)")
    conversation.set_defaults(handler=command_conversation)

    bench = commands.add_parser("bench", help="measure throughput, latency and memory locally")
    bench.add_argument(
        "--channel",
        choices=("web", "whatsapp"),
        default="web",
        help="web (default), or whatsapp: signed webhooks, a fake Graph API, the floor beside",
    )
    bench.add_argument("--contacts", type=int, default=100, help="chatting contacts (100)")
    bench.add_argument("--messages", type=int, default=10, help="messages per contact (10)")
    bench.add_argument(
        "--rate",
        type=float,
        help="messages per second (web: at most, 100; whatsapp echo and waiting: 10)",
    )
    bench.add_argument(
        "--waiting",
        type=int,
        default=10_000,
        help="conversations left waiting for the memory figure (10000)",
    )
    bench.add_argument(
        "--workers",
        dest="bench_workers",
        type=int,
        default=1,
        help="worker processes of the local stack (1)",
    )
    bench.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    bench.add_argument(
        "--webhook",
        action="store_true",
        help="also deliver every event to a local webhook endpoint",
    )
    whatsapp = bench.add_argument_group("--channel whatsapp")
    whatsapp.add_argument(
        "--scenario",
        choices=("all", "menu", "echo", "waiting"),
        default="all",
        help="menu: closed loop; echo: open loop of new contacts; waiting: --waiting new "
        "contacts at --rate, each left at a question (all: menu and echo)",
    )
    whatsapp.add_argument("--users", type=int, default=10, help="menu: contacts at once (10)")
    whatsapp.add_argument(
        "--conversations", type=int, default=10, help="menu: conversations per contact (10)"
    )
    whatsapp.add_argument(
        "--duration", type=float, default=20.0, help="echo: seconds of new contacts (20)"
    )
    whatsapp.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for a message's replies (30)"
    )
    whatsapp.add_argument("--no-floor", action="store_true", help="skip the floor runs")
    bench.set_defaults(handler=command_bench)

    apply = commands.add_parser("apply", help="create or update a bot from a YAML file")
    apply.add_argument("-f", "--file", type=Path, required=True, help="the bot's YAML file")
    apply.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    apply.set_defaults(handler=command_apply)

    export = commands.add_parser("export", help="write a bot as a YAML file for `apply`")
    export.add_argument("bot", help="bot name or id")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    export.set_defaults(handler=command_export)

    webhooks = commands.add_parser("webhooks", help="tools for webhook integrations")
    webhook_commands = webhooks.add_subparsers(required=True, metavar="command")
    listen = webhook_commands.add_parser(
        "listen", help="print the webhooks delivered to a local port, checking signatures"
    )
    listen.add_argument("--port", type=int, default=8787, help="port on 127.0.0.1 (8787)")
    listen.add_argument("--secret", help="the endpoint's whsec_... secret, to check signatures")
    listen.set_defaults(handler=command_webhooks_listen)

    admin = commands.add_parser(
        "admin", help="grant or revoke the platform admin role (marketplace review)"
    )
    admin.add_argument("action", choices=("grant", "revoke"))
    admin.add_argument("email", help="the user's email")
    admin.set_defaults(handler=command_admin)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with command-line options taking precedence."""
    names = (
        "data_dir",
        "api_port",
        "temporal_port",
        "temporal_ui_port",
        "temporal_metrics_port",
        "workers",
        "worker_metrics_port",
    )
    overrides = {name: value for name in names if (value := getattr(args, name, None)) is not None}
    return Settings(**overrides)


NOT_MIGRATED = (
    "error: the database has no BotBuilder tables yet: start the platform once with "
    "`botbuilder up` (or run `botbuilder migrate`)"
)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        sys.exit(handler(settings_from(args), args))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:
        from psycopg.errors import UndefinedTable
        from sqlalchemy.exc import DBAPIError

        from stack.up import StackError

        if isinstance(err, StackError):
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)
        if isinstance(err, DBAPIError) and isinstance(err.orig, UndefinedTable):
            print(NOT_MIGRATED, file=sys.stderr)
            sys.exit(1)
        raise
    finally:
        for server in STARTED:  # not reached by `api` and `worker`, which exit at once
            server.stop()


if __name__ == "__main__":
    main()
