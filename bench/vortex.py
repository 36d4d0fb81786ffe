"""Vortex benchmarks, each against a baseline measured in the same run.

1. ``encoding``: 100 tuples of every field type, encoded and decoded with
   msgspec MessagePack (the one Peek keeps), msgspec JSON, orjson (+ msgspec
   conversion, as it cannot handle structs, Decimal or bytes itself) and the
   standard library, each raw and zlib-compressed at levels 1 and 6.
2. ``action``: sequential action round trips browser -> client -> server ->
   back (the noop ``Echo`` action over the real services, journal included)
   vs a raw aiohttp WebSocket two-hop relay (browser -> relay -> echo server
   -> back) carrying the same bytes, in 5 rounds of 400 each, each Peek round
   followed by a raw one; the ratio is the median of the rounds' ratios of
   medians. Both browsers send messages made before the clock starts (Peek's
   each with an id of its own) and keep what comes back, which is checked
   after the clock stops. Goal <= 1.5x.
3. ``fanout``: one observable update fanned out to 1000 browser sockets on one
   client (server -> client -> 1000) vs a raw aiohttp broadcast to 1000
   sockets. Exactly one upstream message per update. The 1000 receivers run
   in a child process (the same code for both), so the client's loop does
   only the client's work. Goal <= 1.5x.
4. ``memory``: the client process's RSS and traced Python allocations per idle
   browser socket (1000 sockets, connected with the welcome received), next
   to a raw aiohttp WebSocket server's. Each side runs in a fresh process of
   its own (so neither reuses memory the other freed), opens and closes 50
   sockets first (one-time allocations), then measures RSS with tracemalloc
   off, then traced allocations for another 1000. Goal < 20 KiB.

Everything runs on 127.0.0.1, bounded in count and time. Run
``.venv/bin/python bench/vortex.py``; results go to ``bench/results/vortex.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import decimal
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "vortex.json"
GOAL_RATIO = 1.5
GOAL_BYTES_PER_SOCKET = 20 * 1024
SOCKETS = 1000
ROUND_TRIPS = 400
ACTION_ROUNDS = 5
WARMUP = 50
UPDATES = 30
CHILD_TIMEOUT = 60.0


# -- 1. encoding ------------------------------------------------------------------


def encoding() -> dict[str, Any]:
    from peek_plugin_noop.tuples import Echo, Note

    now = datetime.datetime.now(datetime.UTC)
    rows = [
        Echo(
            text=f"row {i} text",
            number=i,
            ratio=i * 1.5,
            flag=i % 2 == 0,
            when=now,
            day=now.date(),
            amount=decimal.Decimal("12.34"),
            raw=b"\x00\x01" * 8,
            items=[i, i + 1, i + 2],
            table={"a": "x", "b": "y"},
            note=Note(text="nested"),
        )
        for i in range(100)
    ]
    kind = list[Echo]

    def default(o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.date):
            return o.isoformat()
        if isinstance(o, decimal.Decimal):
            return str(o)
        if isinstance(o, bytes):
            return base64.b64encode(o).decode()
        raise TypeError(type(o))

    def stdlib_encode(items: list[Echo]) -> bytes:
        return json.dumps(
            msgspec.to_builtins(
                items, builtin_types=(datetime.datetime, datetime.date, decimal.Decimal, bytes)
            ),
            default=default,
        ).encode()

    mp_dec = msgspec.msgpack.Decoder(kind)
    js_dec = msgspec.json.Decoder(kind)
    codecs: dict[str, tuple[Callable[[list[Echo]], bytes], Callable[[bytes], Any]]] = {
        "msgspec-msgpack": (msgspec.msgpack.Encoder().encode, mp_dec.decode),
        "msgspec-json": (msgspec.json.Encoder().encode, js_dec.decode),
        "stdlib-json": (
            stdlib_encode,
            lambda b: msgspec.convert(json.loads(b), kind, strict=False),
        ),
    }
    try:
        import orjson

        codecs["orjson"] = (
            lambda r: orjson.dumps(msgspec.to_builtins(r)),
            lambda b: msgspec.convert(orjson.loads(b), kind, strict=False),
        )
    except ImportError:
        print("orjson is not installed: left out of the encoding comparison")

    def per_call(fn: Callable[[], Any], n: int = 300) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1e6

    table = []
    for name, (enc, dec) in codecs.items():
        raw = enc(rows)
        assert dec(raw) == rows, name
        for level in (None, 1, 6):
            if level is None:
                e = per_call(lambda: enc(rows))  # noqa: B023 - called at once
                d = per_call(lambda: dec(raw))  # noqa: B023
                size = len(raw)
            else:
                packed = zlib.compress(raw, level)
                e = per_call(lambda: zlib.compress(enc(rows), level))  # noqa: B023
                d = per_call(lambda: dec(zlib.decompress(packed)))  # noqa: B023
                size = len(packed)
            row = {
                "codec": name,
                "zlib": level,
                "encode_us": round(e, 1),
                "decode_us": round(d, 1),
                "bytes": size,
            }
            table.append(row)
            print(
                f"  {name:16} zlib={level!s:4} encode {e:7.1f} us  decode {d:7.1f} us  {size:6} B"
            )
    return {"tuples": len(rows), "results": table}


# -- 2. action round trip ---------------------------------------------------------


async def _timed_round_trips(send: Callable[[int], Any], receive: Callable[[], Any]) -> list[float]:
    times = []
    for i in range(WARMUP + ROUND_TRIPS):
        start = time.perf_counter()
        await send(i)
        await receive()
        if i >= WARMUP:
            times.append(time.perf_counter() - start)
    return times


async def raw_relay_round_trips(payload: bytes) -> list[float]:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_bytes(msg.data)
        return ws

    upstream_url: list[str] = []

    async def relay(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with aiohttp.ClientSession() as session, session.ws_connect(upstream_url[0]) as up:

            async def back() -> None:
                async for msg in up:
                    await ws.send_bytes(msg.data)

            task = asyncio.ensure_future(back())
            async for msg in ws:
                await up.send_bytes(msg.data)
            task.cancel()
        return ws

    runners = []
    urls = []
    for handler in (echo, relay):
        app = web.Application()
        app.add_routes([web.get("/ws", handler)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        urls.append(f"http://127.0.0.1:{port}/ws")
        runners.append(runner)
    upstream_url.append(urls[0])
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(urls[1]) as ws:
            replies: list[bytes] = []

            async def receive() -> None:
                replies.append((await ws.receive()).data)

            times = await _timed_round_trips(lambda i: ws.send_bytes(payload), receive)
            assert replies == [payload] * len(replies)
            return times
    finally:
        for runner in runners:
            await runner.cleanup()


async def peek_round_trips(client_url: str, action: Any) -> tuple[list[float], bytes]:
    from peek.plugin import tuple_name
    from peek.vortex.codec import TupleRegistry
    from peek.vortex.envelope import decode_frame, encode_frame

    body = TupleRegistry.encode([action])
    first = encode_frame({"t": "act", "id": "bench-0", "key": tuple_name(type(action))}, body)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(client_url + "/vortex/ws") as ws,
    ):
        await ws.receive()  # welcome
        run = f"bench-{os.getpid()}-{time.time_ns()}"
        frames = [
            encode_frame({"t": "act", "id": f"{run}-{i}", "key": "noop.Echo"}, body)
            for i in range(WARMUP + ROUND_TRIPS)
        ]
        replies: list[bytes] = []

        async def receive() -> None:
            replies.append((await ws.receive()).data)

        times = await _timed_round_trips(lambda i: ws.send_bytes(frames[i]), receive)
        for i, data in enumerate(replies):
            reply = decode_frame(data, 1 << 20)
            assert reply.type == "reply" and reply.header["id"] == f"{run}-{i}", reply.header
        return times, first


# -- 3 + 4. fan-out and memory (receivers in a child process) ---------------------


async def receivers_main(url: str, count: int, mode: str) -> None:
    """The child: ``count`` sockets; prints 'connected', waits for 'sub', then 'got k'."""
    from peek.vortex.envelope import encode_frame

    total = 0
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [await session.ws_connect(url) for _ in range(count)]
        if mode == "peek":
            for ws in sockets:
                await ws.receive()  # welcome
        print("connected", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.readline()  # "sub"

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal total
            async for _msg in ws:
                total += 1
                if total % count == 0:
                    print(f"got {total // count}", flush=True)
                    if total // count >= UPDATES + 1:
                        done.set()

        if mode == "peek":
            sub = encode_frame({"t": "sub", "key": "noop.Counter", "selector": {"name": "fan"}})
            for ws in sockets:
                await ws.send_bytes(sub)
        tasks = [asyncio.ensure_future(read(ws)) for ws in sockets]
        if mode == "raw":
            print("got 1", flush=True)  # no initial value to wait for
            total = count
        await asyncio.wait_for(done.wait(), CHILD_TIMEOUT)
        for task in tasks:
            task.cancel()
        for ws in sockets:
            await ws.close()


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


async def fan_out(url: str, mode: str, trigger: Callable[[int], Any]) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--receivers",
        url,
        str(SOCKETS),
        mode,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_TIMEOUT)
        assert line.strip() == b"connected", line
        child.stdin.write(b"sub\n")
        await child.stdin.drain()
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_TIMEOUT)
        assert line.strip() == b"got 1", line
        times = []
        for k in range(2, UPDATES + 2):
            start = time.perf_counter()
            await trigger(k)
            line = await asyncio.wait_for(child.stdout.readline(), CHILD_TIMEOUT)
            times.append(time.perf_counter() - start)
            assert line.strip() == f"got {k}".encode(), line
        await asyncio.wait_for(child.wait(), CHILD_TIMEOUT)
        return {"times": times}
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def raw_broadcast() -> dict[str, Any]:
    sockets: list[web.WebSocketResponse] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.add_routes([web.get("/ws", handler)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    message = b"\xa7\x00" + b"x" * 80  # about the size of a small data frame

    async def trigger(k: int) -> None:
        for ws in list(sockets):
            await ws.send_bytes(message)

    try:
        return await fan_out(f"http://127.0.0.1:{port}/ws", "raw", trigger)
    finally:
        await runner.cleanup()


# -- 4. memory per idle socket (each side in a fresh process) ----------------------

MEMORY_WARMUP_SOCKETS = 50


async def idle_receivers(url: str, mode: str, count: int) -> asyncio.subprocess.Process:
    """A child holding ``count`` idle sockets to ``url``, once they are all connected."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--receivers",
        url,
        str(count),
        mode,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), CHILD_TIMEOUT)
    assert line.strip() == b"connected", line
    return child


async def stop_receivers(child: asyncio.subprocess.Process, connected: Callable[[], int]) -> None:
    child.kill()
    await child.wait()
    deadline = time.monotonic() + CHILD_TIMEOUT
    while connected() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls the server
        await asyncio.sleep(0.05)


async def measure_idle(url: str, mode: str, connected: Callable[[], int]) -> dict[str, float]:
    await stop_receivers(await idle_receivers(url, mode, MEMORY_WARMUP_SOCKETS), connected)
    gc.collect()
    rss_before = rss_bytes()
    child = await idle_receivers(url, mode, SOCKETS)
    gc.collect()
    rss = (rss_bytes() - rss_before) / SOCKETS
    await stop_receivers(child, connected)
    gc.collect()
    tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0]
    child = await idle_receivers(url, mode, SOCKETS)
    gc.collect()
    traced = (tracemalloc.get_traced_memory()[0] - traced_before) / SOCKETS
    tracemalloc.stop()
    await stop_receivers(child, connected)
    return {"rss_per_socket": rss, "traced_per_socket": traced}


async def memory_main(mode: str) -> None:
    """The child of :func:`memory`: prints one JSON line."""
    if mode == "peek":

        async def run(server: Any, client: Any) -> dict[str, float]:
            gateway = client.browsers
            return await measure_idle(
                client.user_site.url + "/vortex/ws", "peek", lambda: len(gateway.connections)
            )

        result = await with_peek(run)
    else:
        sockets: set[web.WebSocketResponse] = set()

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            sockets.add(ws)
            try:
                async for _ in ws:
                    pass
            finally:
                sockets.discard(ws)
            return ws

        app = web.Application()
        app.add_routes([web.get("/ws", handler)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            result = await measure_idle(f"http://127.0.0.1:{port}/ws", "raw", lambda: len(sockets))
        finally:
            await runner.cleanup()
    print(json.dumps(result), flush=True)


async def memory(mode: str) -> dict[str, float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--memory", mode, stdout=subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT * 3)
    assert child.returncode == 0, f"memory child ({mode}) exited with {child.returncode}"
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


# -- the Peek services ------------------------------------------------------------


async def with_peek(fn: Callable[[Any, Any], Any]) -> Any:
    from peek.testing.services import free_config, installed_specs, start_server, start_upstream

    logging_off()
    with tempfile.TemporaryDirectory() as tmp:
        config = free_config(Path(tmp), **{"vortex.max_queued": 4096})
        specs = installed_specs(["peek_plugin_noop"])
        server = await start_server(config, specs)
        try:
            client = await start_upstream("client", server, specs)
            try:
                return await fn(server, client)
            finally:
                await client.stop()
        finally:
            await server.stop()


def logging_off() -> None:
    import logging

    logging.getLogger().setLevel(logging.ERROR)


async def peek_fanout(server: Any, client: Any) -> dict[str, Any]:
    noop = server.plugins.lifecycle.hook("peek_plugin_noop")
    frames_before: list[int] = []

    async def trigger(k: int) -> None:
        # The update itself: a plugin changes its data and notifies.
        if not frames_before:
            frames_before.append(client.vortex.upstream_frames)
        noop.counters["fan"] = k
        server.vortex.notify("noop.Counter", {"name": "fan"})

    result = await fan_out(client.user_site.url + "/vortex/ws", "peek", trigger)
    per_update = (client.vortex.upstream_frames - frames_before[0]) / UPDATES
    result["upstream_frames_per_update"] = per_update
    return result


async def peek_actions(server: Any, client: Any) -> tuple[list[float], bytes]:
    from peek_plugin_noop.tuples import Echo

    return await peek_round_trips(client.user_site.url, Echo(text="ping", number=1))


async def action_rounds(server: Any, client: Any) -> list[tuple[list[float], list[float]]]:
    """Rounds of Peek round trips, each followed by the raw relay's (load changes slowly)."""
    rounds = []
    for _ in range(ACTION_ROUNDS):
        peek_times, frame = await peek_actions(server, client)
        rounds.append((peek_times, await raw_relay_round_trips(frame)))
    return rounds


async def memory_journal_rounds(server: Any, client: Any) -> list[tuple[list[float], list[float]]]:
    """The same, with the journal in memory: how much the durable journal costs."""
    from peek.vortex.journal import MemoryActionJournal

    server.vortex.journal = MemoryActionJournal()
    return await action_rounds(server, client)


def summary(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "mean_ms": round(statistics.fmean(times) * 1e3, 3),
        "p90_ms": round(sorted(times)[int(len(times) * 0.9)] * 1e3, 3),
    }


async def main() -> dict[str, Any]:
    # Other work on the machine moves every figure: recorded at the start and the end.
    load_at_start = round(os.getloadavg()[0], 2)
    print("encoding (100 tuples of every field type):")
    results: dict[str, Any] = {"load_average_1m_start": load_at_start, "encoding": encoding()}

    rounds = await with_peek(action_rounds)
    memory_rounds = await with_peek(memory_journal_rounds)
    ratios = [statistics.median(p) / statistics.median(r) for p, r in rounds]
    mem_ratios = [statistics.median(p) / statistics.median(r) for p, r in memory_rounds]
    peek_s = summary([t for p, _ in rounds for t in p])
    raw_s = summary([t for _, r in rounds for t in r])
    mem_s = summary([t for p, _ in memory_rounds for t in p])
    ratio = statistics.median(ratios)
    mem_ratio = statistics.median(mem_ratios)
    results["action"] = {
        "peek": peek_s,
        "raw_relay": raw_s,
        "peek_memory_journal": mem_s,
        "ratio_median_memory_journal": round(mem_ratio, 2),
        "ratio_median": round(ratio, 2),
        "ratio_per_round": [round(r, 2) for r in ratios],
        "goal": GOAL_RATIO,
        "met": ratio <= GOAL_RATIO,
        "round_trips": ROUND_TRIPS,
        "rounds": ACTION_ROUNDS,
    }
    print(
        f"action round trip: peek {peek_s['median_ms']} ms, raw relay {raw_s['median_ms']} ms"
        f", ratio {ratio:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}; goal <= {GOAL_RATIO})"
    )
    print(f"  with the journal in memory instead: {mem_s['median_ms']} ms, ratio {mem_ratio:.2f}")

    peek_fan = await with_peek(peek_fanout)
    raw_fan = await raw_broadcast()
    pf, rf = summary(peek_fan["times"]), summary(raw_fan["times"])
    ratio = pf["median_ms"] / rf["median_ms"]
    results["fanout"] = {
        "sockets": SOCKETS,
        "updates": UPDATES,
        "peek": pf,
        "raw_broadcast": rf,
        "ratio_median": round(ratio, 2),
        "goal": GOAL_RATIO,
        "met": ratio <= GOAL_RATIO,
        "upstream_frames_per_update": peek_fan["upstream_frames_per_update"],
    }
    print(
        f"fan-out to {SOCKETS}: peek {pf['median_ms']} ms, raw broadcast {rf['median_ms']} ms"
        f", ratio {ratio:.2f} (goal <= {GOAL_RATIO}); upstream frames per update"
        f" {peek_fan['upstream_frames_per_update']}"
    )

    mem, raw_mem = await memory("peek"), await memory("raw")
    results["memory"] = {
        "sockets": SOCKETS,
        "client_rss_per_socket_bytes": round(mem["rss_per_socket"]),
        "client_traced_per_socket_bytes": round(mem["traced_per_socket"]),
        "raw_aiohttp_rss_per_socket_bytes": round(raw_mem["rss_per_socket"]),
        "raw_aiohttp_traced_per_socket_bytes": round(raw_mem["traced_per_socket"]),
        "goal_bytes": GOAL_BYTES_PER_SOCKET,
        "met": max(mem["rss_per_socket"], mem["traced_per_socket"]) < GOAL_BYTES_PER_SOCKET,
    }
    print(
        f"memory per idle browser socket: RSS {mem['rss_per_socket'] / 1024:.1f} KiB,"
        f" traced {mem['traced_per_socket'] / 1024:.1f} KiB (raw aiohttp: RSS"
        f" {raw_mem['rss_per_socket'] / 1024:.1f} KiB, traced"
        f" {raw_mem['traced_per_socket'] / 1024:.1f} KiB; goal < 20 KiB)"
    )
    return results


def write(results: dict[str, Any]) -> None:
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    doc = {
        "benchmark": "vortex",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "commit": commit,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
        "method": __doc__,
        **results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--receivers", nargs=3, metavar=("URL", "COUNT", "MODE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--memory", choices=("peek", "raw"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        asyncio.run(memory_main(args.memory))
    elif args.receivers:
        url, count, mode = args.receivers
        asyncio.run(receivers_main(url, int(count), mode))
    else:
        write(asyncio.run(main()))
