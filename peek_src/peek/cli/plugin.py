"""``peek plugin upload|list|generations|rollback|remove|prune`` and ``peek service forget``:
plugin rollouts through the server.

Each talks to the running server's admin API (``[server] host`` and
``admin_port``) with the local admin credential in
``<data_dir>/server/admin.token``, so it runs on the server host. A rollout
is followed on the server's event stream until it is over; one line per
step and service is printed (``--json``: one JSON document at the end).

Exit codes: 0 the rollout made the new generation active; 1 it failed and
every service went back (the reasons are printed); 3 the server refused the
request (an invalid upload, a rollout already running, nothing to change);
4 the server cannot be reached or refused the credential.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from peek.config import PeekConfig

__all__ = [
    "EXIT_FAILED",
    "EXIT_REFUSED",
    "EXIT_UNREACHABLE",
    "add_plugin_commands",
    "add_service_commands",
]

EXIT_FAILED = 1
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4
REQUEST_TIMEOUT = 600.0
# A rollout that restarts the server: how long to wait for it to come back, and how often.
RESTART_WAIT = 180.0
RESTART_POLL = 0.5

Command = Callable[..., argparse.ArgumentParser]


def add_plugin_commands(plugin: Any, command: Command) -> None:
    """Add the rollout commands to ``peek plugin`` (``plugin`` is its subparsers)."""
    p = command("upload", _upload, "upload a plugin and roll it out to every service", plugin)
    p.add_argument("file", type=Path, help="a wheel, or a .zip/.tar.gz of a pure-Python project")
    p.add_argument("--signature", type=Path, help="its signature (default: FILE.sig if present)")
    p.add_argument("--reason", default="", help="why (kept with the generation)")
    p.add_argument("--json", action="store_true", help="one JSON document at the end")
    p = command("generations", _generations, "the history of plugin generations", plugin)
    p.add_argument("--json", action="store_true")
    p = command("rollback", _rollback, "go back to an earlier plugin generation", plugin)
    p.add_argument(
        "generation",
        type=int,
        nargs="?",
        help="its number (default: the last one that was active before the current)",
    )
    p.add_argument("--json", action="store_true")
    p = command("remove", _remove, "roll out the plugin set without a plugin", plugin)
    p.add_argument("name", help="the plugin, e.g. peek_plugin_weather")
    p.add_argument("--json", action="store_true")
    p = command(
        "prune",
        _prune,
        "keep the newest generations on disk ([rollout] keep_generations) on every host "
        "and delete what no kept one uses",
        plugin,
    )
    p.add_argument("--json", action="store_true")


def add_service_commands(sub: Any, command: Command) -> None:
    """``peek service forget NAME``: the server stops waiting for a service that is gone."""
    service = sub.add_parser("service", help="services the server knows").add_subparsers(
        metavar="ACTION"
    )
    p = command(
        "forget",
        _forget,
        "drop a down service, so that rollouts no longer wait for it "
        "(it registers again when it reconnects)",
        service,
    )
    p.add_argument("name", help="the service's name, as `peek status` shows it")
    p.add_argument("--kind", choices=("client", "agent", "worker"), help="if the name is shared")


def server_list(args: argparse.Namespace, config: PeekConfig) -> int | None:
    """``peek plugin list`` from the running server; None if it cannot be asked."""
    try:
        status, body = asyncio.run(_call(config, "GET", "/api/plugins"))
    except _Unreachable as exc:
        sys.stderr.write(f"peek: {exc}; listing the plugins installed here instead\n")
        return None
    if status != 200:
        _err(f"the server answered HTTP {status}: {_message(body)}")
        return EXIT_UNREACHABLE
    if args.json:
        _out(json.dumps(body, indent=2))
        return 0
    _out(f"generation {body['generation']}")
    rows: list[tuple[str, ...]] = [("PLUGIN", "VERSION", "SOURCE", "SHA256")]
    for p in body["plugins"]:
        rows.append((p["name"], p["version"], p["source"], (p["sha256"] or "-")[:12]))
    _out(_table(rows))
    _out("")
    services: list[tuple[str, ...]] = [("SERVICE", "NAME", "STATE", "GENERATION", "ROLLOUT")]
    for s in body["services"]:
        services.append(
            (s["kind"], s["name"], s["state"], str(s["generation"] or "-"), s["step"] or "-")
        )
    _out(_table(services))
    return 0


# -- commands -----------------------------------------------------------------


def _upload(args: argparse.Namespace, config: PeekConfig) -> int:
    path: Path = args.file
    if not path.is_file():
        _err(f"{path} is not a file")
        return EXIT_REFUSED
    signature = args.signature or path.with_name(path.name + ".sig")
    sig = signature.read_bytes() if signature.is_file() else None
    if args.signature is not None and sig is None:
        _err(f"{args.signature} is not a file")
        return EXIT_REFUSED
    return asyncio.run(_start(config, args, "POST", "/api/plugins", upload=(path, sig)))


def _rollback(args: argparse.Namespace, config: PeekConfig) -> int:
    number = args.generation
    if number is None:
        body = _ask(config, "GET", "/api/generations")
        if isinstance(body, int):
            return body
        number = _previous(body["generations"])
        if number is None:
            _err("no earlier generation was ever active; nothing to go back to")
            return EXIT_REFUSED
    return asyncio.run(_start(config, args, "POST", f"/api/generations/{number}/rollback"))


def _remove(args: argparse.Namespace, config: PeekConfig) -> int:
    return asyncio.run(_start(config, args, "DELETE", f"/api/plugins/{args.name}"))


def _prune(args: argparse.Namespace, config: PeekConfig) -> int:
    body = _ask(config, "POST", "/api/generations/prune")
    if isinstance(body, int):
        return body
    if args.json:
        _out(json.dumps(body, indent=2))
        return 0
    removed = ", ".join(map(str, body["removed_generations"])) or "none"
    _out(f"kept generations {', '.join(map(str, body['kept']))}")
    _out(f"removed generations {removed} and {len(body['removed_artifacts'])} artifacts")
    return 0


def _forget(args: argparse.Namespace, config: PeekConfig) -> int:
    from urllib.parse import quote, urlencode

    path = f"/api/services/{quote(args.name, safe='')}"
    if args.kind:
        path += "?" + urlencode({"kind": args.kind})
    body = _ask(config, "DELETE", path)
    if isinstance(body, int):
        return body
    gone = body["forgotten"]
    _out(f"forgot {gone['kind']} {gone['name']}; it registers again when it reconnects")
    return 0


def _generations(args: argparse.Namespace, config: PeekConfig) -> int:
    body = _ask(config, "GET", "/api/generations")
    if isinstance(body, int):
        return body
    if args.json:
        _out(json.dumps(body, indent=2))
        return 0
    rows = [("GEN", "STATE", "ACTIVE", "CREATED", "BY", "PLUGINS", "REASON")]
    for g in body["generations"]:
        plugins = ", ".join(
            f"{p['name'].removeprefix('peek_plugin_')} {p['version']}" for p in g["plugins"]
        )
        reason = g["reason"] + (f" -- {'; '.join(g['problems'])}" if g["problems"] else "")
        rows.append(
            (
                str(g["number"]),
                g["state"],
                "*" if g["active"] else "",
                g["created_at"][:19],
                g["created_by"],
                plugins or "-",
                reason,
            )
        )
    _out(_table(rows))
    return 0


def _ask(config: PeekConfig, method: str, path: str) -> dict[str, Any] | int:
    """The JSON body of the admin API's 200 answer, or, having said why not, the exit code."""
    try:
        status, body = asyncio.run(_call(config, method, path))
    except _Unreachable as exc:
        _err(str(exc))
        return EXIT_UNREACHABLE
    if status in (401, 403):
        _err(f"the server refused the admin credential: {_message(body)}")
        return EXIT_UNREACHABLE
    if status != 200:
        _err(f"refused: {_message(body)}")
        return EXIT_REFUSED
    answer: dict[str, Any] = body
    return answer


def _previous(generations: list[dict[str, Any]]) -> int | None:
    active = next((g["number"] for g in generations if g["active"]), None)
    earlier = [
        g["number"]
        for g in generations
        if g["state"] == "active" and not g["active"] and (active is None or g["number"] < active)
    ]
    return max(earlier) if earlier else None


# -- talking to the server ---------------------------------------------------------


class _Unreachable(Exception):
    pass


def _base(config: PeekConfig) -> tuple[str, dict[str, str]]:
    from peek.services.server import admin_token_path

    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    host = f"[{host}]" if ":" in host else host
    path = admin_token_path(config)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise _Unreachable(
            f"cannot read the admin token {path}; is the server's data_dir {config.data_dir}? "
            "(set data_dir or --config)"
        ) from None
    return f"http://{host}:{config.server.admin_port}", {"Authorization": f"Bearer {token}"}


async def _call(config: PeekConfig, method: str, path: str, data: Any = None) -> tuple[int, Any]:
    base, headers = _base(config)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.request(method, base + path, headers=headers, data=data) as response,
        ):
            try:
                body = await response.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = {"message": (await response.text())[:500]}
            return response.status, body
    except (aiohttp.ClientError, OSError) as exc:
        raise _Unreachable(f"cannot reach the server at {base}: {exc}") from None


async def _start(
    config: PeekConfig,
    args: argparse.Namespace,
    method: str,
    path: str,
    upload: tuple[Path, bytes | None] | None = None,
) -> int:
    data = None
    if upload is not None:
        file, signature = upload
        data = aiohttp.FormData()
        data.add_field("file", file.read_bytes(), filename=file.name)
        if signature is not None:
            data.add_field("signature", signature, filename=file.name + ".sig")
        if args.reason:
            data.add_field("reason", args.reason)
        if not args.json:
            sys.stderr.write(f"uploading {file.name} ({file.stat().st_size} bytes)...\n")
    try:
        status, body = await _call(config, method, path, data)
    except _Unreachable as exc:
        _err(str(exc))
        return EXIT_UNREACHABLE
    if status in (401, 403):
        _err(f"the server refused the admin credential: {_message(body)}")
        return EXIT_UNREACHABLE
    if status != 202:
        if args.json:
            _out(json.dumps({"state": "refused", "status": status, **body}, indent=2))
        else:
            _err(f"refused: {_message(body)}")
        return EXIT_REFUSED
    number = body["generation"]
    if not args.json:
        plugin = body.get("plugin")
        what = f" with {plugin['name']} {plugin['version']}" if plugin else ""
        sys.stderr.write(f"generation {number}{what} accepted; rolling out\n")
    return await _follow(config, args, number, body)


async def _follow(
    config: PeekConfig, args: argparse.Namespace, number: int, accepted: dict[str, Any]
) -> int:
    events: list[dict[str, Any]] = []
    final: dict[str, Any] | None = None
    restart_deadline: float | None = None
    while True:
        try:
            final = await _read_events(config, args, number, events)
            problem = f"the event stream of generation {number} ended before the rollout did"
        except (aiohttp.ClientError, OSError) as exc:
            problem = f"lost the server while following generation {number}: {exc}"
        if final is not None:
            break
        loop = asyncio.get_running_loop()
        if restart_deadline is None and any(
            e.get("service") == "server" and e.get("step") == "restarting" for e in events
        ):
            # The server restarts as part of the rollout: follow it once it is back.
            restart_deadline = loop.time() + RESTART_WAIT
        if restart_deadline is None or loop.time() > restart_deadline:
            _err(problem)
            return EXIT_UNREACHABLE
        await asyncio.sleep(RESTART_POLL)
    state = final.get("state")
    problems = final.get("problems") or []
    if args.json:
        _out(
            json.dumps(
                {**accepted, "state": state, "problems": problems, "events": events}, indent=2
            )
        )
    elif state == "active":
        _out(f"generation {number} is active on every service")
    else:
        _err(f"generation {number} failed; every service is back on the previous one:")
        for problem in problems:
            sys.stderr.write(f"  - {problem}\n")
    return 0 if state == "active" else EXIT_FAILED


async def _read_events(
    config: PeekConfig, args: argparse.Namespace, number: int, events: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Read generation ``number``'s event stream into ``events``; its final event, if seen."""
    base, headers = _base(config)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=REQUEST_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{base}/api/generations/{number}/events", headers=headers) as response,
    ):
        if response.status != 200:
            raise aiohttp.ClientResponseError(
                response.request_info, (), status=response.status, message="no event stream"
            )
        async for raw in response.content:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            event = json.loads(line.removeprefix("data:"))
            events.append(event)
            if not args.json:
                _out(_event_line(event))
            if event.get("step") == "done" and event.get("service") == "server":
                return dict(event)
    return None


def _event_line(event: dict[str, Any]) -> str:
    detail = f": {event['detail']}" if event.get("detail") else ""
    return f"{event['service']}: {event['step']}{detail}"


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return str(body)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"peek: {text}\n")


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(widths[i]) for i, c in enumerate(row[:-1])), row[-1]]).rstrip()
        for row in rows
    )
