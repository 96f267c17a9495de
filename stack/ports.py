"""Free TCP ports for the local stacks `bench` (and the tests) start on this machine."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST_PORT = 20_000
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    """The first port the kernel gives to outgoing connections (32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, below the ephemeral range, so that no
    outgoing connection can take it before its server binds it, and never the same twice."""
    for _ in range(200):
        port = random.randrange(LOWEST_PORT, max(LOWEST_PORT + 1, _ephemeral_start()))
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")
