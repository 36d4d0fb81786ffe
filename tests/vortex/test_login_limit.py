"""Login throttling: failed logins per remote address and per user name."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from peek.vortex.browser import LOGIN_PATH
from peek.vortex.sessions import LoginLimiter, LoginLimits

from .conftest import ADMIN, PASSWORD, Stack


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


LIMITS = LoginLimits(free_per_user=3, free_per_address=10, base_lock=2.0, max_lock=60.0)


def test_a_user_name_is_locked_after_its_free_failures() -> None:
    limiter = LoginLimiter(LIMITS, clock=Clock())
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1", "alice") == 0
        limiter.failed("10.0.0.1", "alice")
    assert limiter.retry_after("10.0.0.1", "alice") == 2
    # The lock is on the name, whichever address guesses next, in any letter case.
    assert limiter.retry_after("10.0.0.2", "ALICE") == 2
    assert limiter.retry_after("10.0.0.1", "bob") == 0


def test_each_further_failure_doubles_the_lock_up_to_the_maximum() -> None:
    clock = Clock()
    limiter = LoginLimiter(LIMITS, clock=clock)
    waits = []
    for _ in range(10):
        limiter.failed(None, "alice")
        waits.append(limiter.retry_after(None, "alice"))
    assert waits == [0, 0, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_lock_ends_when_its_time_is_over() -> None:
    clock = Clock()
    limiter = LoginLimiter(LIMITS, clock=clock)
    for _ in range(4):
        limiter.failed(None, "alice")
    assert limiter.retry_after(None, "alice") == 4
    clock.now += 4
    assert limiter.retry_after(None, "alice") == 0


def test_an_address_is_locked_after_its_free_failures_over_many_names() -> None:
    limiter = LoginLimiter(LIMITS, clock=Clock())
    for n in range(10):
        limiter.failed("10.0.0.1", f"user{n}")
    assert limiter.retry_after("10.0.0.1", "someone-else") > 0
    assert limiter.retry_after("10.0.0.2", "someone-else") == 0


def test_failures_are_forgotten_after_a_quiet_time() -> None:
    clock = Clock()
    limiter = LoginLimiter(LIMITS, clock=clock)
    for _ in range(3):
        limiter.failed(None, "alice")
    clock.now += LIMITS.forget_after + 1
    limiter.failed(None, "alice")
    assert limiter.retry_after(None, "alice") == 0


def test_a_success_clears_the_names_failures_but_not_the_addresss() -> None:
    limiter = LoginLimiter(LIMITS, clock=Clock())
    for _ in range(2):
        limiter.failed("10.0.0.1", "alice")
    limiter.succeeded("10.0.0.1", "alice")
    limiter.failed("10.0.0.1", "alice")
    assert limiter.retry_after("10.0.0.1", "alice") == 0  # counting from 0 again
    for n in range(8):
        limiter.failed("10.0.0.1", f"other{n}")
    limiter.succeeded("10.0.0.1", "alice")
    assert limiter.retry_after("10.0.0.1", "alice") > 0  # the address stays locked


def test_a_name_locked_by_others_still_logs_in_from_an_address_it_used_before() -> None:
    limiter = LoginLimiter(LIMITS, clock=Clock())
    limiter.succeeded("10.0.0.1", "admin")
    for _ in range(5):  # someone elsewhere guesses at the name
        limiter.failed("192.0.2.66", "admin")
    assert limiter.retry_after("192.0.2.66", "admin") > 0
    assert limiter.retry_after("10.0.0.2", "admin") > 0  # a new address: the name's lock
    assert limiter.retry_after("10.0.0.1", "ADMIN") == 0  # where admin logged in before


def test_known_addresses_are_bounded_too() -> None:
    limiter = LoginLimiter(LoginLimits(free_per_user=1, max_keys=10), clock=Clock())
    for n in range(20):
        limiter.succeeded(f"10.0.0.{n}", "admin")
    limiter.failed("192.0.2.66", "admin")
    limiter.failed("192.0.2.66", "admin")
    assert limiter.retry_after("10.0.0.0", "admin") > 0  # forgotten: the oldest
    assert limiter.retry_after("10.0.0.19", "admin") == 0


def test_the_limiter_tracks_a_bounded_number_of_keys() -> None:
    limiter = LoginLimiter(LoginLimits(max_keys=100), clock=Clock())
    for n in range(1000):
        limiter.failed(f"10.0.{n // 256}.{n % 256}", f"user{n}")
    assert len(limiter) == 100


# -- on the client's user site -------------------------------------------------------------


async def post_login(url: str, username: str, password: str) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + LOGIN_PATH, json={"username": username, "password": password}) as r,
    ):
        await r.read()
        return r


@pytest.fixture
async def limited_stack(stack: Stack) -> Stack:
    stack.client.browsers.limiter = LoginLimiter(LIMITS)
    return stack


async def test_the_user_site_answers_429_with_retry_after_past_the_free_failures(
    limited_stack: Stack,
) -> None:
    url = limited_stack.url
    for _ in range(3):
        assert (await post_login(url, ADMIN, "wrong")).status == 401
    refused = await post_login(url, ADMIN, PASSWORD)  # even the right password now
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) == 2


async def test_successful_logins_are_never_throttled(limited_stack: Stack) -> None:
    for _ in range(3 * LIMITS.free_per_address):
        assert (await post_login(limited_stack.url, ADMIN, PASSWORD)).status == 200


async def test_the_default_limits_lock_a_user_site_name_after_five_failures(stack: Any) -> None:
    for _ in range(LoginLimits().free_per_user):
        assert (await post_login(stack.url, "mallory", "guess")).status == 401
    assert (await post_login(stack.url, "mallory", "guess")).status == 429
    assert (await post_login(stack.url, ADMIN, PASSWORD)).status == 200
