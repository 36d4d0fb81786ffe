"""A database outage surfaces as errors and heals when the database returns, without a restart.

The outage is a TCP proxy between Peek and PostgreSQL that the test cuts
(every connection dropped, new ones refused) and restores, so the shared
PostgreSQL server itself is never restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from peek.storage import Storage
from peek.testing import installed_specs
from peek.testing.storage import migrated_storage, postgres_database

pytestmark = pytest.mark.real_service

NOOP = "peek_plugin_noop"
# An outage must surface within this, not hang the caller.
ERROR_DEADLINE = 15.0


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to ``target``; :meth:`cut` and :meth:`restore` it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.transport.abort()
        self._writers.discard(dst)


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[Storage, CuttableProxy]]:
    with postgres_database() as url:
        real = make_url(url)
        proxy = CuttableProxy(real.host or "127.0.0.1", real.port or 5432)
        await proxy.start()
        specs = await asyncio.to_thread(installed_specs, [NOOP])
        through_proxy = real.set(host="127.0.0.1", port=proxy.port)
        storage, failed = await migrated_storage(
            tmp_path, specs, through_proxy.render_as_string(hide_password=False)
        )
        assert failed == {}
        yield storage, proxy
        await storage.close()
        await proxy.close()


async def pings(storage: Storage) -> int:
    async with storage.for_plugin(NOOP).session() as session:
        return int(await session.scalar(text(f"SELECT count(*) FROM {NOOP}.ping")) or 0)


def sync_pings(storage: Storage) -> int:
    with storage.for_plugin(NOOP).sync_session() as session:
        return int(session.scalar(text(f"SELECT count(*) FROM {NOOP}.ping")) or 0)


async def test_async_sessions_fail_during_an_outage_and_work_again_after_it(
    proxied: tuple[Storage, CuttableProxy],
) -> None:
    storage, proxy = proxied
    assert await pings(storage) == 0

    await proxy.cut()
    with pytest.raises((DBAPIError, OSError)) as info:
        await asyncio.wait_for(pings(storage), ERROR_DEADLINE)
    assert not isinstance(info.value, TimeoutError)

    await proxy.restore()
    assert await pings(storage) == 0


async def test_worker_sync_sessions_fail_during_an_outage_and_work_again_after_it(
    proxied: tuple[Storage, CuttableProxy],
) -> None:
    storage, proxy = proxied
    assert await asyncio.to_thread(sync_pings, storage) == 0

    await proxy.cut()
    with pytest.raises((DBAPIError, OSError)) as info:
        await asyncio.wait_for(asyncio.to_thread(sync_pings, storage), ERROR_DEADLINE)
    assert not isinstance(info.value, TimeoutError)

    await proxy.restore()
    assert await asyncio.to_thread(sync_pings, storage) == 0
