"""The web apps in a real browser: Debian's Chromium driven by Playwright.

A server and a client run in-process (the first-party plugins, their built
UI as committed); the browser talks to them over 127.0.0.1 only. Screenshots
land in ``tests/artifacts/webapps/``.
"""

from __future__ import annotations

import asyncio
import os
import re
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from peek.plugin.discovery import PluginSpec
from peek.plugin.manifest import manifest_from_data
from peek.testing.requirements import unavailable

try:
    from playwright import async_api as playwright_api
except ImportError:  # scripts/bootstrap dev installs it; a missing one fails under CI
    playwright_api = None  # type: ignore[assignment]

pytestmark = pytest.mark.timeout(90)

CHROMIUM = Path(os.environ.get("PEEK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "webapps"
USER = "peek_plugin_user"
NOOP = "peek_plugin_noop"
TASKS = "peek_plugin_active_task"
PLUGINS = [USER, NOOP, TASKS]
PASSWORD = "alice-password"
WAIT_MS = 15_000
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}

Factory = Callable[..., Awaitable[Any]]


def published(service: Any, name: str) -> Any:
    return service.plugins.lifecycle.published(name)


@pytest.fixture
async def stack(peek_server: Factory, peek_upstream: Factory, tmp_path: Path) -> Any:
    from peek.testing import free_config

    fast_hash = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    config = free_config(tmp_path / "peek-data", **{f"plugin.{USER}": {"argon2": fast_hash}})
    server = await peek_server(PLUGINS, config=config)
    await published(server, USER).create_user("alice", PASSWORD, "Alice Example")
    client = await peek_upstream("client", server, PLUGINS)
    return server, client


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if playwright_api is None:
        unavailable("needs the playwright package (scripts/bootstrap dev installs it)")
    if not await asyncio.to_thread(CHROMIUM.exists):
        unavailable(f"needs Chromium at {CHROMIUM} (scripts/bootstrap dev installs it as root)")
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def log_in(page: Any, url: str, username: str, password: str) -> None:
    await page.goto(url)
    if username:
        await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("button", name="Log out").wait_for(timeout=WAIT_MS)


async def connection_is(page: Any, state: str) -> None:
    await page.locator(f'.conn[data-state="{state}"]').wait_for(timeout=WAIT_MS)


def ui_plugin(
    tmp_path: Path, name: str, files: dict[str, str], pages: list[dict[str, Any]]
) -> PluginSpec:
    """A plugin built in memory whose package holds only UI files (its hook never runs here)."""
    package = tmp_path / name
    for rel, text in files.items():
        path = package / "_private" / "ui-dist" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    manifest = manifest_from_data(
        name,
        "1.0",
        {
            "title": name.removeprefix("peek_plugin_").title(),
            "hooks": {"server": f"{name}._private:ServerHook"},
            "ui": {"pages": pages},
        },
    )
    return PluginSpec(manifest=manifest, package_dir=package)


# -- login and layouts ------------------------------------------------------------


async def test_desktop_login_shows_pages_and_a_live_counter(stack: Any, browser: Any) -> None:
    _, client = stack
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    await connection_is(page, "online")
    nav = page.get_by_role("navigation", name="Pages")
    await nav.get_by_role("link", name="No-op counter").click()
    value = page.get_by_test_id("noop-value")
    await value.filter(has_text="0").wait_for(timeout=WAIT_MS)
    await page.get_by_test_id("noop-bump").click()
    await value.filter(has_text="1").wait_for(timeout=WAIT_MS)
    # Another browser's bump shows up here live.
    other = await context.new_page()
    await other.goto(client.user_site.url + "/#/noop")
    await other.get_by_test_id("noop-bump").click()
    await value.filter(has_text="2").wait_for(timeout=WAIT_MS)
    # The mobile-only page is not offered on the desktop.
    assert await nav.get_by_role("link", name="My tasks").count() == 0
    await shot(page, "desktop-noop")
    await context.close()


async def test_desktop_noop_page_lists_tasks_through_active_task_ui_api(
    stack: Any, browser: Any
) -> None:
    server, client = stack
    task = await published(server, TASKS).add_task("alice", "Inspect feeder 12", "")
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/#/noop", "alice", PASSWORD)
    # active_task has no desktop page: noop's page loads its UI API module (and tuples).
    tasks = page.get_by_test_id("noop-tasks")
    row = tasks.locator(f'li[data-task="{task.task_id}"]')
    await row.wait_for(timeout=WAIT_MS)
    await row.get_by_role("button", name="Complete").click()
    await row.locator('[data-status="done"]').wait_for(timeout=WAIT_MS)
    assert (await published(server, TASKS).get_task(task.task_id)).completed_at is not None
    await shot(page, "desktop-noop-tasks")
    await context.close()


async def test_desktop_refuses_a_wrong_password(stack: Any, browser: Any) -> None:
    _, client = stack
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(client.user_site.url + "/")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill("not-her-password")
    await page.get_by_role("button", name="Log in").click()
    await (
        page.get_by_role("alert")
        .filter(has_text="Wrong username or password")
        .wait_for(timeout=WAIT_MS)
    )
    assert await page.get_by_role("button", name="Log out").count() == 0


async def test_mobile_login_has_a_touch_sized_bottom_navigation(stack: Any, browser: Any) -> None:
    _, client = stack
    context = await browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/mobile/", "alice", PASSWORD)
    nav = page.get_by_role("navigation", name="Pages")
    tasks_link = nav.get_by_role("link", name="My tasks")
    await tasks_link.wait_for(timeout=WAIT_MS)
    box = await tasks_link.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] >= MOBILE["height"] - 2, "navigation sits at the bottom"
    assert box["height"] >= 48, "navigation targets are touch-sized"
    await shot(page, "mobile-home")
    await context.close()


# -- active_task on mobile: live, offline, once ------------------------------------


class Network:
    """Takes a browser context offline, WebSockets included.

    ``set_offline`` alone leaves open WebSockets up (Chromium's offline
    emulation covers HTTP only), so the vortex socket is routed through
    Playwright: going offline closes it and refuses new ones until back online.
    """

    def __init__(self, context: Any) -> None:
        self.context = context
        self.online = True
        self.sockets: list[Any] = []

    async def install(self) -> None:
        await self.context.route_web_socket(re.compile(r".*/vortex/ws$"), self._route)

    async def _route(self, ws: Any) -> None:
        if not self.online:
            await ws.close(code=1001, reason="offline")
            return
        ws.connect_to_server()
        self.sockets.append(ws)

    async def go_offline(self) -> None:
        self.online = False
        await self.context.set_offline(True)
        sockets, self.sockets = self.sockets, []
        for ws in sockets:
            await ws.close(code=1001, reason="offline")

    async def go_online(self) -> None:
        self.online = True
        await self.context.set_offline(False)


async def test_task_appears_live_on_mobile_and_offline_completion_syncs_once(
    stack: Any, browser: Any
) -> None:
    server, client = stack
    tasks = published(server, TASKS)
    context = await browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True)
    network = Network(context)
    await network.install()
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/mobile/#/tasks", "alice", PASSWORD)
    await page.get_by_text("No tasks for you right now.").wait_for(timeout=WAIT_MS)

    task = await tasks.add_task("alice", "Inspect feeder 12", "Reported hot by SCADA")
    row = page.locator(f'li[data-task="{task.task_id}"]')
    await row.wait_for(timeout=WAIT_MS)
    await shot(page, "mobile-task-live")

    executed = server.vortex.executed
    await network.go_offline()
    await connection_is(page, "offline")
    await row.get_by_role("button", name="Complete").click()
    await row.get_by_text("Completed offline, will sync").wait_for(timeout=WAIT_MS)
    await shot(page, "mobile-task-completed-offline")
    assert (await tasks.get_task(task.task_id)).completed_at is None

    await network.go_online()
    await row.locator('[data-status="done"]').wait_for(timeout=WAIT_MS)
    completed = await tasks.get_task(task.task_id)
    assert completed.completed_at is not None
    # Give a duplicate resend a moment to arrive: it must not run the processor again.
    await asyncio.sleep(1.0)
    assert server.vortex.executed - executed == 1
    await shot(page, "mobile-task-synced")
    await context.close()


async def test_mobile_starts_offline_with_the_tasks_it_saw_last(stack: Any, browser: Any) -> None:
    server, client = stack
    task = await published(server, TASKS).add_task("alice", "Check the transformer yard")
    context = await browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True)
    network = Network(context)
    await network.install()
    page = await context.new_page()
    await log_in(page, client.user_site.url + "/mobile/#/tasks", "alice", PASSWORD)
    await page.locator(f'li[data-task="{task.task_id}"]').wait_for(timeout=WAIT_MS)
    # Once the service worker controls the page, the shell and the page's module are cached.
    await page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    await network.go_offline()
    await page.reload()
    await connection_is(page, "offline")
    await page.locator(f'li[data-task="{task.task_id}"]').wait_for(timeout=WAIT_MS)
    await shot(page, "mobile-offline-start")
    await context.close()


# -- run-time composition ----------------------------------------------------------


async def test_a_throwing_plugin_module_shows_an_error_card_and_the_rest_works(
    stack: Any, browser: Any, tmp_path: Path
) -> None:
    _, client = stack
    broken = ui_plugin(
        tmp_path,
        "peek_plugin_broken",
        {"desktop/page.js": "throw new Error('broken on purpose at import');\n"},
        [{"route": "broken", "title": "Broken", "apps": ["desktop"], "module": "desktop/page.js"}],
    )
    await client.ui.set_plugins([*client.plugins.ui_specs(), broken])
    page = await browser.new_page(viewport=DESKTOP)
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    nav = page.get_by_role("navigation", name="Pages")
    await nav.get_by_role("link", name="Broken").click()
    card = page.get_by_role("alert").filter(has_text="broken on purpose at import")
    await card.wait_for(timeout=WAIT_MS)
    assert "Broken could not be shown" in await card.inner_text()
    await shot(page, "desktop-error-card")
    await nav.get_by_role("link", name="No-op counter").click()
    await page.get_by_test_id("noop-value").filter(has_text="0").wait_for(timeout=WAIT_MS)


async def test_a_module_that_does_not_match_its_integrity_hash_is_not_run(
    stack: Any, browser: Any, tmp_path: Path
) -> None:
    _, client = stack
    plugin = ui_plugin(
        tmp_path,
        "peek_plugin_tampered",
        {"desktop/page.js": "export function mount(host) { host.textContent = 'genuine'; }\n"},
        [
            {
                "route": "tampered",
                "title": "Tampered",
                "apps": ["desktop"],
                "module": "desktop/page.js",
            }
        ],
    )
    await client.ui.set_plugins([*client.plugins.ui_specs(), plugin])
    # Swap the bytes behind the published integrity hash, as a tampering proxy would.
    ui = client.ui.plugins["tampered"]
    genuine = ui.files["desktop/page.js"]
    ui.files["desktop/page.js"] = type(genuine)(
        b"export function mount(host) { host.textContent = 'evil'; }\n",
        genuine.content_type,
        genuine.integrity,
    )
    page = await browser.new_page(viewport=DESKTOP)
    await log_in(page, client.user_site.url + "/#/tampered", "alice", PASSWORD)
    await page.get_by_role("alert").filter(has_text="integrity").wait_for(timeout=WAIT_MS)
    assert await page.get_by_text("evil").count() == 0


async def test_a_new_plugin_page_appears_in_an_open_desktop_without_a_reload(
    stack: Any, browser: Any, tmp_path: Path
) -> None:
    _, client = stack
    page = await browser.new_page(viewport=DESKTOP)
    await log_in(page, client.user_site.url + "/", "alice", PASSWORD)
    nav = page.get_by_role("navigation", name="Pages")
    await nav.get_by_role("link", name="No-op counter").wait_for(timeout=WAIT_MS)
    await page.evaluate("window.__peekNotReloaded = true")

    hello = ui_plugin(
        tmp_path,
        "peek_plugin_hello",
        {
            "desktop/hello.js": """
                export function mount(host, ctx) {
                  host.innerHTML = '<h1>Hello from a new plugin</h1>';
                  host.querySelector('h1').dataset.user = ctx.user.username;
                }
            """
        },
        [
            {
                "route": "hello",
                "title": "Hello",
                "icon": "bolt",
                "apps": ["desktop"],
                "module": "desktop/hello.js",
            }
        ],
    )
    before = list(client.plugins.ui_specs())
    await client.ui.set_plugins([*before, hello])
    link = nav.get_by_role("link", name="Hello")
    await link.wait_for(timeout=WAIT_MS)
    await link.click()
    heading = page.get_by_role("heading", name="Hello from a new plugin")
    await heading.wait_for(timeout=WAIT_MS)
    assert await heading.get_attribute("data-user") == "alice"
    await shot(page, "desktop-new-plugin-page")

    await client.ui.set_plugins(before)
    await link.wait_for(state="detached", timeout=WAIT_MS)
    await page.get_by_role("heading", name="Page not found").wait_for(timeout=WAIT_MS)
    assert await page.evaluate("window.__peekNotReloaded === true")


# -- admin ---------------------------------------------------------------------------


async def test_admin_logs_in_lists_and_adds_users(stack: Any, browser: Any) -> None:
    from peek.services.admin_auth import admin_password_file

    server, _ = stack
    password = (await asyncio.to_thread(admin_password_file(server.config).read_text)).strip()
    page = await browser.new_page(viewport=DESKTOP)
    await log_in(page, server.admin_site.url + "/", "", password)
    nav = page.get_by_role("navigation", name="Pages")
    await nav.get_by_role("link", name="Users").click()
    await page.locator('tr[data-user="alice"]').wait_for(timeout=WAIT_MS)
    form = page.get_by_role("form", name="Add a user")
    await form.get_by_label("Username").fill("bob")
    await form.get_by_label("Display name").fill("Bob Builder")
    await form.get_by_label("Password").fill("bob-password")
    await form.get_by_role("button", name="Add user").click()
    await page.locator('tr[data-user="bob"]').wait_for(timeout=WAIT_MS)
    assert (await published(server, USER).get_user("bob")).display_name == "Bob Builder"
    await nav.get_by_role("link", name="No-op counter").click()
    await page.get_by_test_id("noop-bump").click()
    await page.get_by_test_id("noop-value").filter(has_text="1").wait_for(timeout=WAIT_MS)
    await shot(page, "admin-noop")
    await nav.get_by_role("link", name="Users").click()
    await page.locator('tr[data-user="bob"]').wait_for(timeout=WAIT_MS)
    await shot(page, "admin-users")
