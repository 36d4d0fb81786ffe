"""ORM throughput through a plugin's session vs raw SQLAlchemy, on SQLite and PostgreSQL.

Both sides use the same model (noop's ``ping`` table, migrated by the
platform), the same database and the same asyncio driver in the same run:

- ``peek``: ``Storage.for_plugin("peek_plugin_noop").session()``, as a plugin
  gets it from ``ctx.storage`` (on PostgreSQL every transaction also switches
  to the plugin's role; on SQLite the plugin's pool attaches its namespace
  file and begins transactions explicitly).
- ``raw``: ``create_async_engine`` + ``async_sessionmaker`` with SQLAlchemy's
  defaults except ``pool_pre_ping``, which is on for PostgreSQL as in Peek,
  connected straight to the same database (on SQLite to the namespace file
  itself, the schema mapped away with ``schema_translate_map``).

Workloads, per round: ``insert``: ``--rows`` ORM objects added in
transactions of ``--batch`` rows; ``select``: ``--queries`` primary-key
``session.get`` calls, ``--batch`` per session, each in its own transaction.
Peek and raw rounds alternate after one discarded warm-up pair, and the
median of ``--repeat`` rounds is reported. Goal (from the issue): peek >=
0.9x raw. Run ``.venv/bin/python bench/storage.py``; results go to
``bench/results/storage.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from peek.storage import DatabaseSettings
from peek.testing import installed_specs
from peek.testing.storage import migrated_storage, postgres_database
from peek_plugin_noop._private.storage import Ping

NOOP = "peek_plugin_noop"
RESULTS = Path(__file__).parent / "results" / "storage.json"
GOAL = 0.9

Factory = Callable[[], AsyncSession]


async def insert_rows(factory: Factory, rows: int, batch: int) -> float:
    now = datetime.datetime.now(datetime.UTC)
    started = time.perf_counter()
    for start in range(0, rows, batch):
        async with factory() as session, session.begin():
            session.add_all(
                [Ping(site="bench", answered_at=now) for _ in range(min(batch, rows - start))]
            )
    return rows / (time.perf_counter() - started)


async def select_rows(factory: Factory, ids: list[int], queries: int, batch: int) -> float:
    started = time.perf_counter()
    done = 0
    while done < queries:
        async with factory() as session:
            for i in range(min(batch, queries - done)):
                async with session.begin():
                    found = await session.get(Ping, ids[(done + i) % len(ids)])
                    assert found is not None
                session.expunge_all()
            done += batch
    return queries / (time.perf_counter() - started)


async def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        specs = await asyncio.to_thread(installed_specs, [NOOP])
        storage, failed = await migrated_storage(Path(tmp), specs, url)
        assert not failed, failed
        settings: DatabaseSettings = storage.settings
        # The same pool behaviour as Peek's (it pings PostgreSQL connections
        # before use, to survive restarts), so that the ratio is Peek's own cost.
        pool = {"pool_pre_ping": settings.dialect == "postgresql"}
        if settings.dialect == "sqlite":
            raw_url = f"sqlite+aiosqlite:///{settings.sqlite_namespace_file(NOOP)}"
            raw_engine = create_async_engine(raw_url, **pool).execution_options(
                schema_translate_map={NOOP: None}
            )
        else:
            raw_engine = create_async_engine(settings.async_url, **pool)
        raw: Factory = async_sessionmaker(raw_engine, expire_on_commit=False)
        peek: Factory = storage.for_plugin(NOOP).session
        sides = {"peek": peek, "raw": raw}
        try:
            result = await measure(sides, args)
        finally:
            await raw_engine.dispose()
            await storage.close()
    result["backend"] = name
    return result


async def measure(sides: dict[str, Factory], args: argparse.Namespace) -> dict[str, Any]:
    # Rows to select: inserted once, read by both sides.
    await insert_rows(sides["peek"], args.rows, args.batch)
    async with sides["raw"]() as session:
        from sqlalchemy import select

        ids = list(await session.scalars(select(Ping.id)))
    workloads: dict[str, Callable[[Factory], Awaitable[float]]] = {
        "insert": lambda f: insert_rows(f, args.rows, args.batch),
        "select": lambda f: select_rows(f, ids, args.queries, args.batch),
    }
    out: dict[str, Any] = {}
    for workload, fn in workloads.items():
        samples: dict[str, list[float]] = {"peek": [], "raw": []}
        for round_no in range(args.repeat + 1):
            order = ["peek", "raw"] if round_no % 2 == 0 else ["raw", "peek"]
            for side in order:
                rate = await fn(sides[side])
                if round_no > 0:  # the first pair warms pools and caches
                    samples[side].append(rate)
        peek, raw = statistics.median(samples["peek"]), statistics.median(samples["raw"])
        out[workload] = {
            "peek_per_s": round(peek),
            "raw_per_s": round(raw),
            "ratio": round(peek / raw, 3),
            "goal_met": peek / raw >= GOAL,
        }
    async with sides["raw"]() as session, session.begin():
        await session.execute(delete(Ping))
    return out


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with ExitStack() as stack:
        backends = [("sqlite", None)]
        if not args.sqlite_only:
            backends.append(("postgresql", stack.enter_context(postgres_database())))
        for name, given in backends:
            with tempfile.TemporaryDirectory() as tmp:
                url = given or f"sqlite:///{Path(tmp) / 'peek.sqlite'}"
                results.append(await run_backend(name, url, args))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows inserted per round")
    parser.add_argument("--queries", type=int, default=1000, help="gets per round")
    parser.add_argument("--batch", type=int, default=50, help="rows per transaction")
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds per side")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    for result in results:
        for workload in ("insert", "select"):
            r = result[workload]
            print(
                f"{result['backend']:<10} {workload:<6} peek {r['peek_per_s']:>7}/s  "
                f"raw {r['raw_per_s']:>7}/s  ratio {r['ratio']:.3f}  "
                f"{'ok' if r['goal_met'] else 'BELOW GOAL'} (goal >= {GOAL})"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "storage",
                "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "machine": f"{platform.machine()}, {platform.system()}",
                "settings": vars(args),
                "goal_ratio": GOAL,
                "results": results,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
