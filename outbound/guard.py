"""The guard on every outbound connection a tenant controls (flow `api`/`webhook` nodes,
integrator webhooks, the `email` node's SMTP server): only public addresses are reached.

Each request, and each redirect hop, resolves its host name once, refuses it when any address
it resolves to is loopback, private, link-local, unique-local, multicast, unspecified, reserved
or a cloud metadata address (IPv4-mapped, 6to4 and NAT64 IPv6 forms are unwrapped first), and
then connects to the very address it checked: the URL's host stays in the `Host` header and in
TLS (SNI and certificate checks), so DNS cannot answer differently between check and connect.

`OutboundPolicy` holds the exceptions an operator allows (`BOTBUILDER_OUTBOUND_ALLOWED_HOSTS`):
a host name, an IP address or a network (CIDR). An entry matches the URL's host as written (a
name exactly, an address literal inside a listed network), never what a name resolves to, so
an allowed network does not open it to any name that resolves there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
MAX_REDIRECTS = 5


class OutboundRefused(Exception):
    """The request would reach an address tenants may not reach; nothing was sent."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Hosts and networks allowed although not public (development and tests)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, setting: str) -> OutboundPolicy:
        """From a comma-separated list: `localhost, 127.0.0.1, 10.0.0.0/8, [::1]`."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (part.strip().strip("[]").lower() for part in setting.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str) -> bool:
        """Whether the URL's host, as written, is explicitly allowed."""
        host = host.lower().rstrip(".")
        if host in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def refusal_reason(address: IPAddress) -> str | None:
    """Why tenants may not reach `address`, or None when it is a public address."""
    address = _embedded_ipv4(address) or address
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.version == 6 and address in UNIQUE_LOCAL, "a unique-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


async def resolve_checked(host: str, port: int, policy: OutboundPolicy) -> str | None:
    """The address to connect to for `host`, after checking every address it resolves to.

    None when the policy allows the host as written (it is then connected to as usual).
    Raises `OutboundRefused` when any resolved address is not public.
    """
    if policy.allows(host):
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as err:
        raise OutboundRefused(f"cannot resolve host {host!r}: {err}") from err
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise OutboundRefused(f"host {host!r} has no address")
    for address in addresses:
        reason = refusal_reason(address)
        if reason:
            shown = host if host == str(address) else f"{host} ({address})"
            raise OutboundRefused(
                f"refused to connect to {shown}: {reason}; tenants' requests may only reach "
                "public addresses (an operator can allow hosts with "
                "BOTBUILDER_OUTBOUND_ALLOWED_HOSTS)"
            )
    return str(addresses[0])


async def check_url(url: str, policy: OutboundPolicy) -> None:
    """Refuse (`OutboundRefused`) a URL that is not http(s) with a host, or whose host resolves
    to an address tenants may not reach."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as err:
        raise OutboundRefused(f"not a valid URL: {err}") from err
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundRefused("the URL must be an http:// or https:// URL with a host")
    await resolve_checked(parsed.host, parsed.port or _default_port(parsed), policy)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """Checks each request's host and connects to the checked address (redirects included:
    the client sends every hop through here)."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise OutboundRefused(f"not an http(s) URL: {url}")
        address = await resolve_checked(url.host, url.port or _default_port(url), self.policy)
        if address is None:
            return await super().handle_async_request(request)
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=address),
            headers=request.headers,  # keeps the Host header of the original URL
            stream=request.stream,
            extensions=extensions,
        )
        return await super().handle_async_request(pinned)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def guarded_client(
    policy: OutboundPolicy, *, timeout: float, follow_redirects: bool = True
) -> httpx.AsyncClient:
    """A client for tenant-controlled URLs: guarded, following (unless told not to) at most
    `MAX_REDIRECTS` redirects, ignoring proxy environment variables (a proxy would resolve
    names itself), and with no connection reuse (a pooled connection is keyed by address, not
    by host name)."""
    transport = GuardedTransport(policy, limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )


class ResponseTooLarge(Exception):
    """The response body is longer than the caller accepts; the rest was not read."""


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The streamed response's body, read only up to `max_bytes` (else `ResponseTooLarge`)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"the response is {int(declared):,} bytes, over {max_bytes:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"the response is over {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
