"""The admin app's Plugins page in a real browser, against real Peek processes.

A ``peek server`` and a remote ``peek client`` run as separate processes
(tests/rollout/cluster.py); Debian's Chromium, driven by Playwright, logs in
on the admin site, drops a wheel built by tests/rollout/pluginkit.py onto the
page, follows the rollout, and rolls it back with the button, while a desktop
browser on the client shows the plugin's page come and go without a reload.
"""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rollout.cluster import Cluster, cluster
from rollout.pluginkit import plugin_wheel
from rollout.test_rollout_forget import wait_down

from peek.config import load_config
from peek.services.admin_auth import ADMIN_COOKIE, admin_password_file

from . import test_browser as shared

pytestmark = pytest.mark.timeout(120)

# The Chromium fixture of the other browser tests (same flags, same skip-or-fail).
browser = shared.browser

USER = "peek_plugin_user"
NOOP = "peek_plugin_noop"
HELLO = "peek_plugin_hello"
PASSWORD = "alice-password"
WAIT_MS = 30_000  # a rollout to two processes, on a loaded 2-core CI machine

HELLO_PAGE = """
[[ui.pages]]
route = "hello"
title = "Hello"
icon = "bolt"
apps = ["desktop"]
module = "desktop/hello.js"
"""

HELLO_MODULE = textwrap.dedent(
    """
    export function mount(host) {
      host.innerHTML = '<h1>Hello from an uploaded plugin</h1>';
    }
    """
)


def hello_wheel(directory: Path) -> Path:
    return plugin_wheel(
        directory,
        "hello",
        "1.0",
        services=("server", "client"),
        manifest_extra=HELLO_PAGE,
        files={"_private/ui-dist/desktop/hello.js": HELLO_MODULE},
    )


async def admin_password(c: Cluster) -> str:
    config = await asyncio.to_thread(load_config, c.config())
    return (await asyncio.to_thread(admin_password_file(config).read_text)).strip()


async def open_plugins_page(browser: Any, c: Cluster) -> Any:
    page = await browser.new_page(viewport=shared.DESKTOP)
    await shared.log_in(page, c.admin + "/", "", await admin_password(c))
    await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Plugins").click()
    await page.get_by_role("heading", name="Plugins", exact=True).wait_for(timeout=WAIT_MS)
    return page


async def drop_file(page: Any, name: str, data: bytes) -> None:
    """Drop ``data`` as file ``name`` onto the upload area, as a drag from the desktop does."""
    transfer = await page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode()],
    )
    target = page.get_by_test_id("plugin-drop")
    await target.dispatch_event("dragover", {"dataTransfer": transfer})
    await target.dispatch_event("drop", {"dataTransfer": transfer})


async def rollout_ends_active(page: Any, generation: int) -> None:
    progress = page.get_by_role("region", name="Rollout progress")
    await (
        progress.locator('[data-testid="rollout-outcome"][data-state="active"]')
        .filter(has_text=f"Generation {generation} is active")
        .wait_for(timeout=WAIT_MS)
    )
    for kind in ("server", "client"):
        step = progress.locator(f'li[data-service^="{kind}"] .step')
        assert await step.inner_text() == "healthy", kind


async def test_a_dropped_wheel_rolls_out_shows_its_page_and_rolls_back_with_the_button(
    browser: Any, tmp_path: Path
) -> None:
    wheel = await asyncio.to_thread(hello_wheel, tmp_path)
    async with cluster(tmp_path / "peek", "separate", kinds=("client",), enabled=(USER, NOOP)) as c:
        status, _ = await c.api(
            "POST", "/plugins/user/users", json={"username": "alice", "password": PASSWORD}
        )
        assert status == 201
        # A desktop browser is open on the client before anything is uploaded.
        desktop = await browser.new_page(viewport=shared.DESKTOP)
        await shared.log_in(desktop, f"http://127.0.0.1:{c.ports['user']}/", "alice", PASSWORD)
        desktop_nav = desktop.get_by_role("navigation", name="Pages")
        await desktop_nav.get_by_role("link", name="No-op counter").wait_for(timeout=WAIT_MS)
        await desktop.evaluate("window.__peekNotReloaded = true")
        hello_link = desktop_nav.get_by_role("link", name="Hello")
        assert await hello_link.count() == 0

        admin = await open_plugins_page(browser, c)
        await admin.locator('tr[data-generation="1"][data-state="active"]').wait_for(
            timeout=WAIT_MS
        )
        await drop_file(admin, wheel.name, await asyncio.to_thread(wheel.read_bytes))
        await rollout_ends_active(admin, 2)
        row = admin.get_by_test_id("plugin-set").locator(f'tr[data-plugin="{HELLO}"]')
        for kind in ("server", "client"):
            await (
                row.locator(f'td[data-service="{kind}"]')
                .filter(has_text="1.0")
                .wait_for(timeout=WAIT_MS)
            )
        await admin.locator('tr[data-generation="2"][data-state="active"]').wait_for(
            timeout=WAIT_MS
        )
        await shared.shot(admin, "admin-plugins-rolled-out")

        # The open desktop gets the new page, with no reload.
        await hello_link.click(timeout=WAIT_MS)
        await desktop.get_by_role("heading", name="Hello from an uploaded plugin").wait_for(
            timeout=WAIT_MS
        )
        await shared.shot(desktop, "desktop-uploaded-plugin-page")

        await admin.get_by_role("button", name="Roll back to generation 1").click()
        await rollout_ends_active(admin, 3)
        await row.wait_for(state="detached", timeout=WAIT_MS)
        latest = admin.locator('tr[data-generation="3"][data-state="active"]')
        await latest.filter(has_text="rollback to generation 1").wait_for(timeout=WAIT_MS)
        await shared.shot(admin, "admin-plugins-rolled-back")
        _, body = await c.api("GET", "/api/plugins")
        assert HELLO not in {p["name"] for p in body["plugins"]}

        await hello_link.wait_for(state="detached", timeout=WAIT_MS)
        await desktop.get_by_role("heading", name="Page not found").wait_for(timeout=WAIT_MS)
        assert await desktop.evaluate("window.__peekNotReloaded === true")


async def test_a_refused_upload_shows_the_servers_reason_on_the_page(
    browser: Any, tmp_path: Path
) -> None:
    junk = b"this is not a zip archive at all"
    name = "peek_plugin_junk-1.0-py3-none-any.whl"
    async with cluster(tmp_path / "peek", "separate", kinds=()) as c:
        page = await open_plugins_page(browser, c)
        await page.locator('tr[data-generation="1"][data-state="active"]').wait_for(timeout=WAIT_MS)
        await drop_file(page, name, junk)
        alert = page.get_by_role("alert")
        await alert.wait_for(timeout=WAIT_MS)
        await shared.shot(page, "admin-plugins-refused-upload")
        # The page says what the API says for the same bytes, sent with the page's
        # session: accepted with its CSRF token (refused as 422 by validation), not without.
        assert c.http is not None
        session = {
            k["name"]: k["value"] for k in await page.context.cookies() if k["name"] == ADMIN_COOKIE
        }
        headers = {"Cookie": f"{ADMIN_COOKIE}={session[ADMIN_COOKIE]}"}
        async with c.http.get(c.admin + "/api/admin/session", headers=headers) as response:
            csrf = (await response.json())["csrf"]

        async def upload(extra: dict[str, str]) -> tuple[int, str]:
            assert c.http is not None
            form = aiohttp.FormData()
            form.add_field("file", junk, filename=name)
            async with c.http.post(
                c.admin + "/api/plugins", data=form, headers=headers | extra
            ) as response:
                return response.status, await response.text()

        status, _ = await upload({})
        assert status == 403
        status, text = await upload({"X-Peek-CSRF": csrf})
        assert status == 422, text
        assert await alert.inner_text() == json.loads(text)["message"]
        assert await page.get_by_role("region", name="Rollout progress").count() == 0
        _, history = await c.api("GET", "/api/generations")
        assert [g["number"] for g in history["generations"]] == [1]


async def test_a_reason_goes_with_the_upload_and_remove_asks_before_rolling_out_without_it(
    browser: Any, tmp_path: Path
) -> None:
    wheel = await asyncio.to_thread(plugin_wheel, tmp_path / "w", "probe", "1.0.0")
    probe = "peek_plugin_probe"
    async with cluster(tmp_path / "peek", "separate", kinds=("client",)) as c:
        page = await open_plugins_page(browser, c)
        await page.locator('tr[data-generation="1"][data-state="active"]').wait_for(timeout=WAIT_MS)
        await page.get_by_label("Reason (kept with the generation)").fill("line 3 needs the probe")
        await drop_file(page, wheel.name, await asyncio.to_thread(wheel.read_bytes))
        await rollout_ends_active(page, 2)
        uploaded = page.locator('tr[data-generation="2"][data-state="active"]')
        await uploaded.filter(has_text="line 3 needs the probe").wait_for(timeout=WAIT_MS)

        remove = page.get_by_role("button", name=f"Remove {probe}")
        answers: list[str] = []

        async def answer(dialog: Any) -> None:
            answers.append(dialog.message)
            await (dialog.dismiss() if len(answers) == 1 else dialog.accept())

        page.on("dialog", answer)
        await remove.click()  # dismissed: nothing happens
        await page.wait_for_timeout(500)
        _, history = await c.api("GET", "/api/generations")
        assert [g["number"] for g in history["generations"]] == [2, 1]
        await remove.click()  # accepted: a generation without it
        await rollout_ends_active(page, 3)
        assert all(probe in message for message in answers) and len(answers) == 2
        row = page.get_by_test_id("plugin-set").locator(f'tr[data-plugin="{probe}"]')
        await row.wait_for(state="detached", timeout=WAIT_MS)
        latest = page.locator('tr[data-generation="3"][data-state="active"]')
        await latest.filter(has_text=f"removal of {probe}").wait_for(timeout=WAIT_MS)
        await shared.shot(page, "admin-plugins-removed")
        _, body = await c.api("GET", "/api/plugins")
        assert probe not in {p["name"] for p in body["plugins"]}


async def test_a_signature_picked_on_the_page_goes_with_the_upload(
    browser: Any, tmp_path: Path
) -> None:
    from peek.rollout.signing import generate_key, sign

    wheel = await asyncio.to_thread(plugin_wheel, tmp_path / "w", "probe", "1.0.0")
    key = tmp_path / "signing-key"
    trusted = await asyncio.to_thread(generate_key, key)
    signature = await asyncio.to_thread(sign, key, wheel)
    extra = f"require_signature = true\ntrusted_keys = [{json.dumps(trusted.openssh())}]\n"
    async with cluster(tmp_path / "peek", "separate", kinds=(), extra=extra) as c:
        page = await open_plugins_page(browser, c)
        await page.locator('tr[data-generation="1"][data-state="active"]').wait_for(timeout=WAIT_MS)
        data = await asyncio.to_thread(wheel.read_bytes)
        await drop_file(page, wheel.name, data)
        alert = page.get_by_role("alert")
        await alert.filter(has_text="not signed").wait_for(timeout=WAIT_MS)
        await page.get_by_label("Signature (optional)").set_input_files(
            {
                "name": signature.name,
                "mimeType": "application/json",
                "buffer": await asyncio.to_thread(signature.read_bytes),
            }
        )
        await drop_file(page, wheel.name, data)
        await (
            page.get_by_role("region", name="Rollout progress")
            .locator('[data-testid="rollout-outcome"][data-state="active"]')
            .wait_for(timeout=WAIT_MS)
        )
        await alert.wait_for(state="detached", timeout=WAIT_MS)
        await shared.shot(page, "admin-plugins-signed-upload")


async def test_a_down_service_can_be_forgotten_from_the_page(browser: Any, tmp_path: Path) -> None:
    async with cluster(tmp_path / "peek", "separate", kinds=("agent",)) as c:
        await c.kill("agent")
        await wait_down(c, "agent")
        page = await open_plugins_page(browser, c)
        services = page.get_by_test_id("services")
        down = services.locator('tr[data-service="agent"][data-state="down"]')
        await down.wait_for(timeout=WAIT_MS)
        assert await services.locator('tr[data-service="server"] button').count() == 0
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await down.get_by_role("button", name="Forget agent remote-agent").click()
        await down.wait_for(state="detached", timeout=WAIT_MS)
        await shared.shot(page, "admin-plugins-service-forgotten")
        assert "agent" not in {s["kind"] for s in (await c.status())["services"]}
