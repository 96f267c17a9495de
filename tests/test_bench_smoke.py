"""`botbuilder bench` runs end to end on a tiny load and prints every figure (no timing is
asserted: speed is read from the benchmark's output, not from tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_bench_prints_throughput_latency_memory_and_webhooks() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stack.cli",
            "bench",
            "--contacts",
            "2",
            "--messages",
            "2",
            "--rate",
            "5",
            "--waiting",
            "3",
            "--webhook",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "4 messages posted" in out and "0 refused" in out
    assert "all 4 replies sent" in out
    assert "reply p50" in out and "p99" in out and "ingress (POST to 202)" in out
    assert "3 conversations started and waiting at a question" in out
    assert "database" in out and "MB" in out
    assert re.search(r"webhooks  [1-9]\d* deliveries received by then, 0 with an invalid", out)


STALLING_BENCH = """
import stack.bench as bench
bench.STALL_SECONDS = 5.0
silent = {"name": "silent", "nodes": [bench.bench_flow()["nodes"][0]], "edges": []}
bench.bench_flow = lambda: silent  # a flow that never answers
raise SystemExit(bench.bench(bench.BenchOptions(contacts=2, messages=2, rate=5, waiting=0)))
"""


def test_a_bench_the_stack_stops_answering_ends_with_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    result = subprocess.run(
        [sys.executable, "-c", STALLING_BENCH],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "botbuilder bench: stopped: no reply for 5 s, 0 sent" in result.stderr
    assert "Traceback" not in result.stderr
