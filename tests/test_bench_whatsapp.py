"""`botbuilder bench --channel whatsapp` drives the production path end to end on a tiny load:
signed webhooks into the real ingress, replies captured by its fake Graph API, the floor
beside (no timing is asserted: speed is read from the output, not from tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def bench(*options: str) -> str:
    """The output of `botbuilder bench --channel whatsapp` with these options (it succeeded)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    result = subprocess.run(
        [sys.executable, "-m", "stack.cli", "bench", "--channel", "whatsapp", *options],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_whatsapp_bench_answers_every_message_of_both_scenarios() -> None:
    out = bench(
        *("--users", "1", "--conversations", "2", "--rate", "4", "--duration", "1"),
        *("--timeout", "20", "--webhook"),
    )
    lines = {
        (scenario, label): line
        for scenario, block in re.findall(r"  (menu|echo) \(.*?\n((?:    .*\n)+)", out)
        for label, line in re.findall(r"    (botbuilder|floor) +(.*)", block)
    }
    # menu: 2 conversations × 4 messages, 6 replies each; echo: 4 new contacts, 1 reply each
    assert (
        "answers 12 of 12, 0 timeouts, 0 mismatches, 0 duplicates, 0 workflow tasks timed out"
        in lines["menu", "botbuilder"]
    )
    assert "answers 8 of 8, 0 timeouts" in lines["menu", "floor"]
    assert "answers 4 of 4, 0 timeouts, 0 mismatches, 0 duplicates" in lines["echo", "botbuilder"]
    assert "answers 4 of 4, 0 timeouts" in lines["echo", "floor"]
    for line in lines.values():
        figures = re.search(r"([\d.]+) msg/s; reply p50 (\d+) ms, p99 (\d+) ms", line)
        assert figures is not None, line
        rate, p50, p99 = figures.groups()
        assert float(rate) > 0 and 0 < int(p50) <= int(p99), line
    # the menu's reply latency by step: flow starts apart from answers
    by_step = re.search(r"\n    by step +(.*)", out)
    assert by_step is not None, out
    steps = re.findall(r"([^;]+?) p50 (\d+) ms, p99 (\d+) ms", by_step.group(1))
    assert [role.strip() for role, _, _ in steps] == [
        "hola (starts a flow)",
        "name (an answer)",
        "button (an answer that ends the run)",
        "gracias (starts and ends a flow)",
    ], by_step.group(0)
    assert all(0 < int(p50) <= int(p99) for _, p50, p99 in steps), by_step.group(0)
    # CPU per message, in all and by part, for the stack and for its floor
    parts = (
        r"core-s/msg \(whole stack: Temporal ([\d.]+), workers ([\d.]+), "
        r"PostgreSQL ([\d.]+), API ([\d.]+)\)"
    )
    for scenario in ("menu", "echo"):
        shares = re.search(parts, lines[scenario, "botbuilder"])
        assert shares and all(float(share) > 0 for share in shares.groups()), lines
        floor = re.search(
            r"core-s/msg \(floor: Temporal ([\d.]+), floor worker and client ([\d.]+)\)",
            lines[scenario, "floor"],
        )
        assert floor and all(float(share) > 0 for share in floor.groups()), lines
    assert "load average" in out
    # The analytics outbox drained after the run, and its rollups agree with the stored messages.
    drained = (
        r"analytics: 0 facts left [\d.]+ s after the last reply; messages in 12 rolled up of 12"
    )
    assert re.search(drained, out), out
    delivered = re.search(r"webhooks: (\d+) deliveries received, 0 with an invalid signature", out)
    assert delivered and int(delivered.group(1)) > 0, out


def test_whatsapp_bench_leaves_new_contacts_waiting_and_reports_memory() -> None:
    out = bench("--scenario", "waiting", "--waiting", "6", "--rate", "6", "--timeout", "20")
    # each new contact gets the greeting and the menu's first question, then waits there
    assert re.search(r"botbuilder .*answers 12 of 12, 0 timeouts, 0 mismatches, 0 dup", out), out
    waiting = re.search(
        r"waiting +6 conversations waiting at a question after [\d.]+ s \(([\d.]+) starts/s\); "
        r"worker (\d+) MB now, peak (\d+) MB; database (\d+) MB",
        out,
    )
    assert waiting is not None, out
    assert all(float(figure) > 0 for figure in waiting.groups()), out
    assert re.search(r"floor .*answers 6 of 6, 0 timeouts", out), out
