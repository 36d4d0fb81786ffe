"""The web apps' security in a real browser: the Content-Security-Policy holds
and breaks nothing, and a session ended on the server sends the shell to its login."""

from __future__ import annotations

import asyncio
from typing import Any

from peek.services.admin_auth import ADMIN_COOKIE, admin_password_file
from peek.vortex.browser import SESSION_COOKIE

# test_browser's fixtures (used as the tests' parameters below, hence the noqa there).
from .test_browser import (  # noqa: F401
    DESKTOP,
    MOBILE,
    PASSWORD,
    WAIT_MS,
    browser,
    connection_is,
    log_in,
    shot,
    stack,
)

CSP_WORDS = "Content Security Policy"


class Console:
    """Console errors and CSP violation reports of every page of a context."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page

    def csp(self) -> list[str]:
        return [text for text in self.errors if CSP_WORDS in text]


async def cookie(context: Any, name: str) -> str:
    (value,) = [c["value"] for c in await context.cookies() if c["name"] == name]
    return str(value)


async def test_the_apps_run_under_their_content_security_policy_without_violations(
    stack: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server, client = stack
    console = Console()
    context = await browser.new_context(viewport=DESKTOP)
    page = console.watch(await context.new_page())
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    await connection_is(page, "online")  # the socket: connect-src
    await (
        page.get_by_role("navigation", name="Pages")
        .get_by_role("link", name="No-op counter")
        .click()
    )  # a plugin module loaded by URL with its integrity hash
    await page.get_by_test_id("noop-bump").click()
    await page.get_by_test_id("noop-value").filter(has_text="1").wait_for(timeout=WAIT_MS)
    await page.evaluate("navigator.serviceWorker.ready")  # worker-src
    mobile = console.watch(await context.new_page())
    await mobile.set_viewport_size(MOBILE)
    await mobile.goto(client.user_site.url + "/mobile/")
    await mobile.get_by_role("button", name="Log out").wait_for(timeout=WAIT_MS)
    admin = console.watch(await browser.new_page(viewport=DESKTOP))
    password = (await asyncio.to_thread(admin_password_file(server.config).read_text)).strip()
    await log_in(admin, server.admin_site.url + "/", "", password)
    await connection_is(admin, "online")
    await shot(page, "csp-desktop")
    assert console.csp() == []

    # The policy is really enforced: an injected inline script is refused and reported.
    ran = await page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.__injected = true";
            document.head.appendChild(s);
            return window.__injected === true;
        }"""
    )
    assert ran is False
    await page.wait_for_function("true")
    assert any("inline script" in text for text in console.csp())
    await context.close()


async def test_the_desktop_shows_the_login_when_the_server_ends_its_session(
    stack: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    _, client = stack
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    await connection_is(page, "online")

    await client.browsers.end_session(await cookie(context, SESSION_COOKIE))

    await page.get_by_role("button", name="Log in").wait_for(timeout=WAIT_MS)
    assert await page.get_by_role("button", name="Log out").count() == 0
    await shot(page, "desktop-session-ended")
    # ... and logging in again works.
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    await context.close()


async def test_the_desktop_shows_the_login_when_its_session_expired_on_a_reconnect(
    stack: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    _, client = stack
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    await connection_is(page, "online")

    # The session's idle time runs out while the page is open; then its socket drops.
    store = client.browsers.sessions
    real_clock = store._clock
    store._clock = lambda: real_clock() + store.idle + 1
    for conn in list(client.browsers.connections):
        await conn.ws.close()

    await page.get_by_role("button", name="Log in").wait_for(timeout=WAIT_MS)
    await shot(page, "desktop-session-expired")
    await context.close()


async def test_the_admin_app_shows_the_login_when_the_server_ends_its_session(
    stack: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server, _ = stack
    password = (await asyncio.to_thread(admin_password_file(server.config).read_text)).strip()
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await log_in(page, server.admin_site.url + "/", "", password)
    await connection_is(page, "online")

    await server.admin_browsers.end_session(await cookie(context, ADMIN_COOKIE))

    await page.get_by_role("button", name="Log in").wait_for(timeout=WAIT_MS)
    assert await page.get_by_role("button", name="Log out").count() == 0
    await shot(page, "admin-session-ended")
    await context.close()
