"""Behind a reverse proxy: the client's address comes from X-Forwarded-For, but only when the
peer is a trusted proxy; login throttling counts failures per forwarded address; the limits
come from ``[vortex]``."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from peek.config import PeekConfig
from peek.vortex.browser import LOGIN_PATH, client_address

from .conftest import ADMIN, PASSWORD, Stack, vortex_config

PROXIES = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/64"))


def request_from(peer: str, *forwarded: str) -> object:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    headers = [("X-Forwarded-For", value) for value in forwarded]
    return make_mocked_request("POST", LOGIN_PATH, headers=headers, transport=transport)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No proxy in between: the peer, whatever the header says.
        ("192.0.2.9", ("198.51.100.7",), "192.0.2.9"),
        # A trusted proxy: the address it was reached from.
        ("10.0.0.2", ("198.51.100.7",), "198.51.100.7"),
        # Two trusted proxies in a row; the leftmost entry is the client's own claim.
        ("10.0.0.2", ("203.0.113.66, 198.51.100.7, 10.0.0.3",), "198.51.100.7"),
        # Several headers count as one list, in order.
        ("10.0.0.2", ("203.0.113.66", "198.51.100.7"), "198.51.100.7"),
        # IPv6 proxies and clients.
        ("fd00::2", ("2001:db8::5",), "2001:db8::5"),
        # Garbage ends the walk at the last hop that could be trusted.
        ("10.0.0.2", ("198.51.100.7, not-an-address",), "10.0.0.2"),
        # A trusted proxy that forwarded nothing.
        ("10.0.0.2", (), "10.0.0.2"),
    ],
)
def test_the_client_address_is_taken_from_trusted_proxies_only(
    peer: str, forwarded: tuple[str, ...], expected: str
) -> None:
    assert client_address(request_from(peer, *forwarded), PROXIES) == expected  # type: ignore[arg-type]


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address(request_from("10.0.0.2", "198.51.100.7"), ()) == "10.0.0.2"  # type: ignore[arg-type]


@pytest.fixture
def config(tmp_path: Path) -> PeekConfig:
    # The tests' requests reach the client from 127.0.0.1: that is the "proxy" here.
    return vortex_config(
        tmp_path,
        **{
            "vortex.trusted_proxies": ["127.0.0.1/32"],
            "vortex.login_attempts_per_address": 2,
            "vortex.login_attempts_per_user": 100,
        },
    )


async def login_via_proxy(stack: Stack, client: str, password: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.url + LOGIN_PATH,
            json={"username": ADMIN, "password": password},
            headers={"X-Forwarded-For": client},
        ) as response,
    ):
        return response.status


async def test_behind_a_proxy_failed_logins_count_per_forwarded_address(stack: Stack) -> None:
    for _ in range(2):  # [vortex] login_attempts_per_address
        assert await login_via_proxy(stack, "198.51.100.7", "wrong") == 401
    assert await login_via_proxy(stack, "198.51.100.7", PASSWORD) == 429
    # Another client behind the same proxy is not locked out with it.
    assert await login_via_proxy(stack, "198.51.100.8", PASSWORD) == 200
