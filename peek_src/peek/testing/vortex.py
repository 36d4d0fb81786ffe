"""A browser stand-in for tests: speaks the vortex frames of PROTOCOL.md to a client.

::

    async with VortexBrowser(client.user_site.url) as browser:
        await browser.login("admin", "secret")
        await browser.connect()
        await browser.subscribe("noop.Counter", {"name": "a"})
        frame = await browser.expect("data")
        reply = await browser.action(Bump(name="a"), registry)

It is deliberately thin (no reconnects, no offline queue): tests see exactly
what the client sends.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from peek.plugin.tuples import Tuple, tuple_name
from peek.vortex.browser import ACTION_PATH, CONTENT_TYPE, LOGIN_PATH, WS_PATH
from peek.vortex.codec import TupleRegistry
from peek.vortex.envelope import Frame, decode_frame, encode_frame

__all__ = ["VortexBrowser"]

DEFAULT_WAIT = 10.0
MAX_FRAME = 64 << 20


class VortexBrowser:
    """One browser session against a client's user site (``base_url``)."""

    def __init__(self, base_url: str, *, session: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session_token = session
        self._http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        # Frames not yet claimed by an expect(), oldest first; several
        # expect() calls may wait at once (a reply and an update, say).
        self._unclaimed: collections.deque[Frame] = collections.deque(maxlen=10_000)
        self._arrived = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> VortexBrowser:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session_token}"} if self.session_token else {}

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def login(self, username: str, password: str) -> int:
        """POST the login; the HTTP status (the session is kept on success)."""
        async with self.http.post(
            self.base_url + LOGIN_PATH, json={"username": username, "password": password}
        ) as response:
            if response.status == 200:
                self.session_token = (await response.json())["session"]
            return response.status

    async def connect(self, *, read: bool = True) -> Frame | None:
        """Open the WebSocket; with ``read`` a task queues every frame (the welcome first)."""
        self.ws = await self.http.ws_connect(
            self.base_url + WS_PATH, headers=self._headers(), max_msg_size=MAX_FRAME
        )
        if not read:
            return None
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))
        return await self.expect("welcome")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.BINARY:
                async with self._arrived:
                    self._unclaimed.append(decode_frame(msg.data, MAX_FRAME))
                    self._arrived.notify_all()

    async def send(self, header: Mapping[str, Any], body: bytes = b"") -> None:
        assert self.ws is not None, "connect() first"
        await self.ws.send_bytes(encode_frame(header, body))

    async def send_raw(self, data: bytes | str) -> None:
        assert self.ws is not None, "connect() first"
        if isinstance(data, str):
            await self.ws.send_str(data)
        else:
            await self.ws.send_bytes(data)

    async def subscribe(self, key: str, selector: Mapping[str, Any] | None = None) -> None:
        await self.send({"t": "sub", "key": key, "selector": dict(selector or {})})

    async def unsubscribe(self, key: str, selector: Mapping[str, Any] | None = None) -> None:
        await self.send({"t": "unsub", "key": key, "selector": dict(selector or {})})

    @property
    def unclaimed(self) -> list[Frame]:
        """Frames received and not yet claimed by an ``expect``, oldest first."""
        return list(self._unclaimed)

    async def expect(
        self,
        kind: str | None = None,
        where: Callable[[Frame], bool] | None = None,
        *,
        within: float = DEFAULT_WAIT,
    ) -> Frame:
        """The first unclaimed frame of type ``kind`` (matching ``where``).

        Frames that do not match stay for a later ``expect`` (a reply and an
        update may arrive in either order).
        """

        def wanted(frame: Frame) -> bool:
            return (kind is None or frame.type == kind) and (where is None or where(frame))

        async with asyncio.timeout(within), self._arrived:
            while True:
                for i, frame in enumerate(self._unclaimed):
                    if wanted(frame):
                        del self._unclaimed[i]
                        return frame
                await self._arrived.wait()

    async def action(
        self,
        action: Tuple,
        *,
        action_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - it travels with the action
        within: float = DEFAULT_WAIT,
    ) -> Frame:
        """Send ``action`` over the socket; its ``reply`` or ``err`` frame."""
        action_id = action_id or secrets.token_hex(16)
        header: dict[str, Any] = {"t": "act", "id": action_id, "key": tuple_name(type(action))}
        if timeout is not None:
            header["timeout"] = timeout
        await self.send(header, TupleRegistry.encode([action]))
        return await self.expect(where=lambda f: f.header.get("id") == action_id, within=within)

    async def post_action(self, action: Tuple, *, action_id: str | None = None) -> Frame:
        """Send ``action`` with the HTTP POST fallback; the answer frame."""
        header = {
            "t": "act",
            "id": action_id or secrets.token_hex(16),
            "key": tuple_name(type(action)),
        }
        data = encode_frame(header, TupleRegistry.encode([action]))
        async with self.http.post(
            self.base_url + ACTION_PATH,
            data=data,
            headers={"Content-Type": CONTENT_TYPE, **self._headers()},
        ) as response:
            return decode_frame(await response.read(), MAX_FRAME)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait({self._reader})
        if self._http is not None:
            await self._http.close()
