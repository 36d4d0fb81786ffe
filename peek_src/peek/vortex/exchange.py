"""Authenticated HTTP calls from a service to the server's data-exchange site.

Plugins reach their own server-side routes (``/plugins/<api>/...`` on the
exchange site) through ``ctx.resources.server.call(...)``; the service token
that authenticates the link authenticates these calls too.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from peek.errors import PeekError

__all__ = ["DEFAULT_CALL_TIMEOUT", "ExchangeClient", "ExchangeError"]

DEFAULT_CALL_TIMEOUT = 30.0


class ExchangeError(PeekError):
    """A call to the server failed; ``status`` is the HTTP status, or None if unreachable."""

    def __init__(self, url: str, status: int | None, reason: str) -> None:
        self.url = url
        self.status = status
        self.reason = reason
        where = f"HTTP {status}" if status is not None else "unreachable"
        super().__init__(f"call to {url} failed ({where}): {reason}")


class ExchangeClient:
    """Implements :class:`peek.plugin.ServerCalls`. Must be used from the event loop."""

    def __init__(self, server_url: str, token: str, *, timeout: float = DEFAULT_CALL_TIMEOUT):
        self.server_url = server_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, path: str, json: Any = None) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        url = self.server_url + path
        try:
            async with self._session.request(method, url, json=json) as response:
                if response.status >= 400:
                    raise ExchangeError(url, response.status, (await response.text())[:500])
                if response.content_type == "application/json":
                    return await response.json()
                return await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ExchangeError(url, None, str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
