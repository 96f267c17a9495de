"""What the Temporal UI shows of a conversation: summaries of activities, timers and children,
workflows' static summaries and current details, written to read like the flow.

Message text appears only as a short prefix, and not at all for a bot marked as handling
sensitive data. Pure functions: safe to call from workflow code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from models.messages import InboundMessage, OutboundMessage
from models.payloads.engine import BotTraits, FlowRunInput, StepRecord

PREFIX_LENGTH = 60
WORD_SLACK = 15


def clip(text: str, bot: BotTraits) -> str:
    """A message's text as summaries may show it: quoted, one line, at most ~60 characters."""
    if bot.sensitive_data:
        return "(text hidden: sensitive data)"
    line = " ".join(text.split())
    if len(line) > PREFIX_LENGTH:
        cut = line[: PREFIX_LENGTH - 1]
        if " " in cut[-WORD_SLACK:]:  # end on a whole word
            cut = cut.rsplit(" ", 1)[0]
        line = cut.rstrip() + "…"
    return f"“{line}”"


def duration(length: timedelta) -> str:
    """`90 s`, `5 min`, `2 h 30 min`, `3 d` ..."""
    seconds = int(length.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "min")]
    return " ".join(f"{amount} {unit}" for amount, unit in parts if amount) or "0 s"


def moment(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def node_label(node_id: str, node_type: str) -> str:
    return f"`{node_id}` ({node_type})"


def sent(node: str, message: OutboundMessage, bot: BotTraits) -> str:
    """`node` is a `node_label` or who sent it (an agent)."""
    media = message.media
    kind = media.kind if message.kind == "media" and media else message.kind
    text = message.text or (media.caption if media else None)
    parts = [f"{node}: send", "" if kind == "text" else kind, clip(text, bot) if text else ""]
    return " ".join(part for part in parts if part)


def received(message: InboundMessage, bot: BotTraits) -> str:
    return f"store inbound {message.kind} {clip(message.answer_text(), bot)}"


def steps_stored(steps: list[StepRecord]) -> str:
    count = len(steps)
    return f"store {count} step{'s' if count != 1 else ''} (last at `{steps[-1].node_id}`)"


def http_call(node: str, method: str, url: str) -> str:
    return f"{node}: HTTP {method.upper()} {urlsplit(url).hostname or url}"


def ai_call(node: str, model: str | None) -> str:
    return f"{node}: AI completion ({model or 'default model'})"


def sleeping(node: str, length: timedelta) -> str:
    return f"{node}: wait {duration(length)}"


def silence(deadline: datetime) -> str:
    """The timer of a contact's silence (`SilenceTimer`): a message since moves the deadline."""
    return f"the contact's silence, checked at {moment(deadline)} (a message since moves it on)"


def reply_timeout(node: str, length: timedelta) -> str:
    return f"{node}: no reply after {duration(length)}"


def ended(status: str, error: str | None, bot: BotTraits) -> str:
    """A run's last current details; the error may quote templated URLs, so not when the bot
    handles sensitive data."""
    return f"ended: {status}" + (f" ({error})" if error and not bot.sensitive_data else "")


def run_summary(params: FlowRunInput) -> str:
    """A flow run's static summary: flow, version, contact, bot."""
    bot = f" · bot “{params.bot.name}”" if params.bot.name else ""
    return (
        f"flow “{params.flow.name}” v{params.flow.version} for "
        f"{params.contact['external_id']} on {params.channel_kind}{bot}"
    )


def run_details(params: FlowRunInput) -> str:
    """A flow run's static details (Markdown)."""
    rows = {
        "Bot": f"{params.bot.name} (`{params.bot_id}`)",
        "Flow": f"{params.flow.name} (`{params.flow.flow_id}`)",
        "Version": f"{params.flow.version} (`{params.flow.version_id}`)",
        "Contact": f"{params.contact['external_id']} (`{params.contact_id}`)",
        "Channel": f"{params.channel_kind} (`{params.channel_id}`)",
        "Conversation": f"`{params.conversation_id}` ({params.conversation_workflow_id})",
    }
    return "\n".join(f"- **{name}**: {value}" for name, value in rows.items())


def waiting(node: str, since: datetime, timeout: timedelta | None) -> str:
    until = f", timeout at {moment(since + timeout)}" if timeout else ""
    return f"at node {node}: waiting for a reply since {moment(since)}{until}"


def conversation_summary(channel_kind: str, contact_address: str) -> str:
    """A conversation's static summary (set by whoever starts it)."""
    return f"{channel_kind} conversation with {contact_address}"
