"""How long a plugin rollout takes under ``peek run`` (4 services, plain backend), against a
cold start of the same plugin set, in one run.

``peek run`` starts in a temporary directory with a test plugin (``probe``,
hooks on all four services) and an unrelated one (``counter``) uploaded.
Then, ``--repeat`` times, a new version of ``probe`` is uploaded and the
server's event stream timed:

- ``switched``: from the upload accepted (the generation proposed, after
  validation) until the last service reported it switched and running the
  new set (the ``switched`` event of the slowest service), and
- ``healthy``: until the server marked the generation active.

``cold start``: ``peek run`` stopped and started again on the same data
directory (the last generation active), timed from spawning it until every
service reports every plugin started. Goal (from the issue): switched < 5 s
and <= 2x cold start. Medians are printed and written to
``bench/results/rollout.json``. Run ``.venv/bin/python bench/rollout.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime as dt
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The rollout tests' helpers start real processes and write plugin wheels.
sys.path.insert(0, str(HERE.parent / "tests"))

from rollout.cluster import Cluster  # noqa: E402
from rollout.pluginkit import plugin_wheel  # noqa: E402

RESULTS = HERE / "results" / "rollout.json"
KINDS = ("server", "client", "agent", "worker")


def _at(event: dict[str, Any]) -> float:
    return dt.fromisoformat(event["at"]).timestamp()


async def _rollout(c: Cluster, wheel: Path) -> dict[str, float]:
    status, body = await c.upload(wheel)
    assert status == 202, body
    events = await c.events(body["generation"])
    assert events[-1]["state"] == "active", events[-1]
    proposed = _at(next(e for e in events if e["step"] == "proposed"))
    switched = [_at(e) for e in events if e["step"] == "switched"]
    assert len(switched) == len(KINDS), events
    return {"switched": max(switched) - proposed, "healthy": _at(events[-1]) - proposed}


async def _cold_start(c: Cluster) -> float:
    await c.stop()
    c.procs.clear()
    started = time.monotonic()
    await c.start()
    return time.monotonic() - started


async def main(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="peek-bench-rollout-") as tmp:
        root = Path(tmp)
        wheels = root / "wheels"
        c = Cluster(root / "run", "run")
        await c.start()
        try:
            services = KINDS
            await _rollout(c, plugin_wheel(wheels, "counter", "1.0.0", services=("server",)))
            await _rollout(c, plugin_wheel(wheels, "probe", "1.0.0", services=services))
            runs = []
            for i in range(repeat):
                wheel = plugin_wheel(wheels, "probe", f"1.{i + 1}.0", services=services)
                runs.append(await _rollout(c, wheel))
            colds = []
            for _ in range(max(1, repeat // 2)):
                colds.append(await _cold_start(c))
        finally:
            await c.stop()
    switched = statistics.median(r["switched"] for r in runs)
    healthy = statistics.median(r["healthy"] for r in runs)
    cold = statistics.median(colds)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "services": list(KINDS),
        "repeat": repeat,
        "rollout_switched_s": round(switched, 3),
        "rollout_healthy_s": round(healthy, 3),
        "cold_start_s": round(cold, 3),
        "ratio_switched_to_cold": round(switched / cold, 2),
        "goal_met": switched < 5.0 and switched <= 2 * cold,
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        "cold_starts": [round(x, 3) for x in colds],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(main(args.repeat))
    print(
        f"rollout to 4 services: switched {result['rollout_switched_s']:.2f} s, "
        f"healthy {result['rollout_healthy_s']:.2f} s (median of {args.repeat}); "
        f"cold start {result['cold_start_s']:.2f} s; "
        f"ratio {result['ratio_switched_to_cold']:.2f}; goal met: {result['goal_met']}"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
