"""Boot N generated trivial plugins on the server and compare with a bare import of them.

For each size, N plugin packages ``peek_plugin_bench_<i>`` (each with a
``plugin.toml``, a server hook in ``_private/server.py``, a ``.dist-info`` with
a ``peek.plugins`` entry point, and a requirement on one or two lower-numbered
plugins) are written into a temporary site directory and byte-compiled. Every
measurement then runs in a fresh interpreter with that directory first on
``PYTHONPATH``:

- ``bare``: ``importlib.import_module`` of every package and of its
  ``_private.server`` module, the modules Peek imports.
- ``peek``: what the server's plugin set does at boot: ``discover(only=names)``
  in the loop's executor, ``PluginLifecycle("server", ...)`` (which resolves
  the graph), ``load_all()`` and ``start_all()``.

Both children import the same Peek modules, create the event loop and run a
full garbage collection before starting the clock, so the timed regions hold
only the plugin work. Discovery still scans every distribution of the
environment, as a real boot does. Plugin data directories exist (the warm-up
run made them), as on every boot after the first. Bare and Peek runs
alternate, after one discarded warm-up pair per size, and the median of
``--repeat`` runs is reported.

Goal (from the issue): Peek boot <= 2x bare import at every size, and cost
linear in the number of plugins. Run ``.venv/bin/python bench/boot.py``.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import functools
import gc
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Mode = Literal["bare", "peek", "peek-cold"]

DEFAULT_SIZES = (50, 100, 200, 500)
DEFAULT_REPEAT = 5
GOAL_RATIO = 2.0
# Cost is "linear" when Peek's cost per plugin at the largest size is at most
# this multiple of its cost per plugin at the smallest (fixed costs make the
# smallest size dearer per plugin, so super-linear growth is what this catches).
LINEARITY_LIMIT = 1.5
CHILD_TIMEOUT = 120.0
PREFIX = "peek_plugin_bench_"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

METHOD = (
    "Each sample is a fresh interpreter. In both children Peek's modules and the event loop are "
    "set up and gc.collect() runs before the clock starts, so only plugin work is timed. "
    "bare = import_module(pkg) and import_module(pkg._private.server) for every plugin; "
    "peek = discover(only=names, cache_file=...) in the executor (as the services do), "
    "PluginLifecycle('server', ...), load_all(), start_all(); the discovery cache is valid "
    "(every boot after the first). 'first boot' is the same with the cache removed, so "
    "discovery scans every distribution on sys.path (the venv's too) and parses every "
    "plugin.toml, as after an install or upgrade. Sources are byte-compiled and plugin data "
    "directories exist beforehand. Medians of the repeats; bare, first-boot and peek runs "
    "alternate; one warm-up round per size is discarded."
)

MANIFEST = """\
title = "Bench {i}"
peek = ">=0.1,<1"

[hooks]
server = "{name}._private.server:ServerHook"
{requires}"""

SERVER_MODULE = '''\
"""{name} on the server: publishes itself and does nothing else."""

from __future__ import annotations

from peek.plugin import PluginContext, PluginHook


class ServerHook(PluginHook):
    def load(self, ctx: PluginContext) -> None:
        ctx.publish(self)

    async def start(self, ctx: PluginContext) -> None:
        self.started = True
'''


# -- generating plugins ----------------------------------------------------


def plugin_names(count: int) -> list[str]:
    return [f"{PREFIX}{i}" for i in range(count)]


def requirements(i: int) -> list[int]:
    """One or two lower-numbered plugins that plugin ``i`` requires (none for the first)."""
    if i == 0:
        return []
    rng = random.Random(i)
    return sorted(rng.sample(range(i), min(i, rng.choice((1, 2)))))


def generate_site(site: Path, count: int) -> list[str]:
    """Write ``count`` plugin packages and their dist-info into ``site``; byte-compile them."""
    names = plugin_names(count)
    for i, name in enumerate(names):
        pkg = site / name
        (pkg / "_private").mkdir(parents=True)
        (pkg / "__init__.py").write_text(f'"""Bench plugin {i}."""\n', encoding="utf-8")
        (pkg / "_private" / "__init__.py").write_text("", encoding="utf-8")
        (pkg / "_private" / "server.py").write_text(
            SERVER_MODULE.format(name=name), encoding="utf-8"
        )
        deps = requirements(i)
        requires = "".join(f'bench_{j} = ">=1.0"\n' for j in deps)
        (pkg / "plugin.toml").write_text(
            MANIFEST.format(i=i, name=name, requires=f"\n[requires]\n{requires}" if deps else ""),
            encoding="utf-8",
        )
        dist_info = site / f"{name}-1.0.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n",
            encoding="utf-8",
        )
        (dist_info / "entry_points.txt").write_text(
            f"[peek.plugins]\n{name} = {name}\n", encoding="utf-8"
        )
    if not compileall.compile_dir(site, quiet=1):
        raise RuntimeError(f"byte-compiling {site} failed")
    return names


# -- the measured children -------------------------------------------------


class _InlineExecutor(ThreadPoolExecutor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def child(mode: Mode, count: int, data_root: Path, profile_out: Path | None) -> None:
    """Run one timed sample in this (fresh) interpreter and print its result as JSON."""
    import asyncio
    import importlib
    import importlib.metadata

    import peek

    # The plugins' own ``from peek.plugin import PluginHook`` is then free in both modes.
    import peek.plugin
    from peek.plugin.discovery import discover
    from peek.plugin.lifecycle import PluginLifecycle, PluginState

    names = plugin_names(count)
    # As the services do: a discovery cache in the data directory. The cold
    # mode removes it first (the first boot after an install or upgrade).
    cache_file = data_root / "discovery.json"
    if mode == "peek-cold":
        cache_file.unlink(missing_ok=True)
    runner = asyncio.Runner()
    loop = runner.get_loop()
    profiler = None
    if profile_out is not None:
        import cProfile

        profiler = cProfile.Profile()
        # cProfile sees one thread only: run the executor's work (discovery,
        # imports) inline so that it shows up.
        loop.set_default_executor(_InlineExecutor())

    async def boot() -> tuple[PluginLifecycle, list[Any]]:
        # As the server's plugin set does: discovery is blocking, so off the loop.
        specs, errors = await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(discover, names, cache_file=cache_file)
        )
        lifecycle = PluginLifecycle(
            "server", specs, peek_version=peek.__version__, data_root=data_root
        )
        await lifecycle.load_all()
        await lifecycle.start_all()
        return lifecycle, list(errors)

    lifecycle: PluginLifecycle | None = None
    errors: list[Any] = []
    # Start both modes from the same heap: garbage left by importing Peek would
    # otherwise trigger full collections at N-dependent points, a step in the curve.
    gc.collect()
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    if mode == "bare":
        for name in names:
            importlib.import_module(name)
            importlib.import_module(f"{name}._private.server")
    else:
        lifecycle, errors = runner.run(boot())
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        assert profile_out is not None
        profiler.dump_stats(profile_out)

    if mode == "bare":
        ok = sum(f"{name}._private.server" in sys.modules for name in names)
    else:
        assert lifecycle is not None
        ok = sum(lifecycle.state(name) is PluginState.STARTED for name in names)
        runner.run(lifecycle.unload_all())
        if errors:
            raise SystemExit(f"discovery errors: {errors[:3]}")
    runner.close()
    if ok != count:
        raise SystemExit(f"{mode}: only {ok} of {count} plugins got through")
    print(json.dumps({"mode": mode, "count": count, "seconds": elapsed}))


def run_child(
    mode: Mode, site: Path, count: int, data_root: Path, profile_out: Path | None = None
) -> float:
    """One sample in a fresh interpreter with ``site`` first on the path; seconds timed inside."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--count",
        str(count),
        "--data-root",
        str(data_root),
    ]
    if profile_out is not None:
        cmd += ["--profile-out", str(profile_out)]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child for {count} plugins failed:\n{proc.stderr}{proc.stdout}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["seconds"])


# -- the driver ------------------------------------------------------------


@dataclass
class SizeResult:
    n: int
    bare_ms: float
    peek_ms: float
    ratio: float
    peek_ms_per_plugin: float
    bare_ms_per_plugin: float
    met: bool
    # The first boot after an install or upgrade, with no discovery cache.
    cold_ms: float
    cold_ratio: float
    # The minimum is less sensitive to other load on the machine than the median.
    ratio_of_minimums: float
    bare_samples_ms: list[float]
    peek_samples_ms: list[float]


def measure(count: int, repeat: int, workdir: Path) -> SizeResult:
    site = workdir / f"site-{count}"
    data_root = workdir / f"data-{count}"
    site.mkdir()
    data_root.mkdir()
    generate_site(site, count)
    samples: dict[Mode, list[float]] = {"bare": [], "peek": [], "peek-cold": []}
    for run in range(repeat + 1):
        for mode in ("bare", "peek-cold", "peek"):
            seconds = run_child(mode, site, count, data_root)
            if run:  # the first pair warms the file cache and is discarded
                samples[mode].append(seconds * 1000)
    bare = statistics.median(samples["bare"])
    peek = statistics.median(samples["peek"])
    cold = statistics.median(samples["peek-cold"])
    return SizeResult(
        cold_ms=round(cold, 2),
        cold_ratio=round(cold / bare, 2),
        n=count,
        bare_ms=round(bare, 2),
        peek_ms=round(peek, 2),
        ratio=round(peek / bare, 2),
        peek_ms_per_plugin=round(peek / count, 4),
        bare_ms_per_plugin=round(bare / count, 4),
        met=peek / bare <= GOAL_RATIO,
        ratio_of_minimums=round(min(samples["peek"]) / min(samples["bare"]), 2),
        bare_samples_ms=[round(s, 2) for s in samples["bare"]],
        peek_samples_ms=[round(s, 2) for s in samples["peek"]],
    )


def linearity(results: list[SizeResult]) -> dict[str, Any]:
    """How Peek's cost grows with N: per-plugin cost largest vs smallest, and a linear fit."""
    first, last = results[0], results[-1]
    ratio = last.peek_ms_per_plugin / first.peek_ms_per_plugin
    figures: dict[str, Any] = {
        "per_plugin_ms_smallest": first.peek_ms_per_plugin,
        "per_plugin_ms_largest": last.peek_ms_per_plugin,
        "per_plugin_ratio": round(ratio, 2),
        "limit": LINEARITY_LIMIT,
        "met": ratio <= LINEARITY_LIMIT,
    }
    if len(results) >= 2:
        slope, intercept = statistics.linear_regression(
            [r.n for r in results], [r.peek_ms for r in results]
        )
        worst = max(abs(r.peek_ms - (intercept + slope * r.n)) / r.peek_ms for r in results)
        figures.update(
            fit_ms_per_plugin=round(slope, 4),
            fit_fixed_ms=round(intercept, 2),
            fit_worst_residual=round(worst, 3),
        )
    return figures


def git_commit() -> str | None:
    proc = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=Path(__file__).resolve().parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


def table(results: list[SizeResult]) -> list[str]:
    lines = [
        "| N | bare import ms | peek boot ms | ratio | peek ms/plugin | <= 2x "
        "| first boot ms (no cache) | first-boot ratio |",
        "|---:|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    lines += [
        f"| {r.n} | {r.bare_ms:.1f} | {r.peek_ms:.1f} | {r.ratio:.2f} | "
        f"{r.peek_ms_per_plugin:.3f} | {'yes' if r.met else 'NO'} | "
        f"{r.cold_ms:.1f} | {r.cold_ratio:.2f} |"
        for r in results
    ]
    return lines


def write_results(report: dict[str, Any], results: list[SizeResult], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "boot.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lin = report["linearity"]
    md = [
        "# Boot benchmark",
        "",
        f"{report['date']}, Python {report['python']}, {report['nproc']} CPUs, "
        f"commit {report['commit']}, median of {report['repeat']} runs.",
        "",
        f"Goal: peek boot <= {GOAL_RATIO:g}x bare import at every size, cost linear in N.",
        "",
        *table(results),
        "",
        f"Peek cost per plugin at N={results[-1].n} vs N={results[0].n}: "
        f"{lin['per_plugin_ratio']}x (linear if <= {LINEARITY_LIMIT}); "
        f"linear fit {lin.get('fit_fixed_ms')} ms + {lin.get('fit_ms_per_plugin')} ms x N. "
        f"Machine load average before/after: {report['load_average_before_after']}.",
        "",
        f"Goal met: {'yes' if report['goal_met'] else 'NO'}.",
        "",
        METHOD,
        "",
    ]
    (out / "boot.md").write_text("\n".join(md), encoding="utf-8")


def profile(count: int, workdir: Path, top: int = 25) -> None:
    """Profile the Peek side at ``count`` plugins and print the top costs."""
    import pstats

    site = workdir / f"profile-site-{count}"
    data_root = workdir / f"profile-data-{count}"
    site.mkdir()
    data_root.mkdir()
    generate_site(site, count)
    out = workdir / "peek.prof"
    run_child("peek", site, count, data_root)  # warm the file cache
    run_child("peek", site, count, data_root, profile_out=out)
    stats = pstats.Stats(str(out), stream=sys.stdout).strip_dirs()
    print(
        f"\nPeek boot of {count} plugins under cProfile (executor work run inline), "
        f"top {top} by own time:"
    )
    stats.sort_stats("tottime").print_stats(top)
    print(f"Top {top} by cumulative time:")
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: sorted({int(x) for x in s.split(",")}),
        default=list(DEFAULT_SIZES),
        help="comma-separated plugin counts (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        help="timed runs per size and mode; the median is reported",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR,
        help="where boot.json and boot.md go (default: bench/results)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead of benchmarking, profile the Peek boot of N plugins",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when the goal is not met"
    )
    parser.add_argument("--child", choices=("bare", "peek", "peek-cold"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(args.child, args.count, args.data_root, args.profile_out)
        return 0
    if args.repeat < 1 or not args.sizes or args.sizes[0] < 1:
        parser.error("--repeat and every size must be at least 1")

    with tempfile.TemporaryDirectory(prefix="peek-bench-boot-") as tmp:
        workdir = Path(tmp)
        if args.profile:
            profile(args.profile, workdir)
            return 0
        began = time.monotonic()
        load_before = [round(x, 2) for x in os.getloadavg()]
        print("Timed regions exclude interpreter start-up, the import of peek and event loop")
        print(f"creation; median of {args.repeat} fresh-interpreter runs per cell.\n")
        results = []
        for count in args.sizes:
            results.append(measure(count, args.repeat, workdir))
            shutil.rmtree(workdir / f"site-{count}")
            print(f"  measured N={count} ({time.monotonic() - began:.0f} s)")

    lin = linearity(results)
    goal_met = all(r.met for r in results) and bool(lin["met"])
    print()
    print("\n".join(table(results)))
    print(
        f"\nPer-plugin peek cost at N={results[-1].n} vs N={results[0].n}: "
        f"{lin['per_plugin_ratio']}x ({lin['per_plugin_ms_largest']:.3f} vs "
        f"{lin['per_plugin_ms_smallest']:.3f} ms; linear if <= {LINEARITY_LIMIT})"
    )
    if "fit_ms_per_plugin" in lin:
        print(
            f"Linear fit: {lin['fit_fixed_ms']:.1f} ms + {lin['fit_ms_per_plugin']:.3f} ms x N, "
            f"worst residual {lin['fit_worst_residual']:.1%}"
        )
    print(f"Goal (<= {GOAL_RATIO:g}x at every size, linear): {'met' if goal_met else 'NOT met'}")

    import peek

    report: dict[str, Any] = {
        "benchmark": "boot",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "load_average_before_after": [load_before, [round(x, 2) for x in os.getloadavg()]],
        "peek_version": peek.__version__,
        "commit": git_commit(),
        "repeat": args.repeat,
        "method": METHOD,
        "goal": {"max_ratio": GOAL_RATIO, "linear": True, "linearity_limit": LINEARITY_LIMIT},
        "sizes": [asdict(r) for r in results],
        "linearity": lin,
        "goal_met": goal_met,
    }
    write_results(report, results, args.out)
    print(f"Results written to {args.out / 'boot.json'} and {args.out / 'boot.md'}")
    return 1 if args.check and not goal_met else 0


if __name__ == "__main__":
    sys.exit(main())
