"""Python side of the TypeScript client's tests (run with the repository's venv).

``peek_stack.py setup DIR``
    Write a config for a server and a client with only noop and user enabled
    (free ports, short vortex timings, an admin login) and the client's service
    token; print ``{"config", "ports", "username", "password"}`` as JSON. The
    node tests then start ``python -m peek server|client --config ...``.

``peek_stack.py codec``
    Read ``{"frames": {name: hex}}`` (frames the TypeScript codec encoded) on
    stdin; print ``{"fixtures": {name: hex}, "decoded": {name: {...}}}``: the
    same fixtures encoded by Python's codec, and whether each TypeScript frame
    decodes here to exactly the Python fixture's header and tuples.
"""

from __future__ import annotations

import datetime
import decimal
import json
import socket
import sys
from pathlib import Path
from typing import Any

from peek.config import load_config
from peek.plugin.tuples import Tuple
from peek.services.server import token_store_path
from peek.vortex.codec import TupleRegistry
from peek.vortex.envelope import FrameError, decode_frame, encode_frame
from peek.vortex.tokens import TokenStore, write_secret_file
from peek_plugin_noop.tuples import ALL_TUPLES, Counter, Echo, Note

USERNAME, PASSWORD = "admin", "correct horse battery"
MAX_FRAME = 1 << 20
UTC = datetime.UTC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(directory: Path) -> dict[str, Any]:
    ports = {"admin": free_port(), "exchange": free_port(), "user": free_port()}
    password_file = directory / "admin-password"
    password_file.write_text(PASSWORD, encoding="utf-8")
    server_url = f"http://127.0.0.1:{ports['exchange']}"
    path = directory / "peek.toml"
    path.write_text(
        f"""
data_dir = "{directory / "data"}"
[server]
admin_port = {ports["admin"]}
exchange_port = {ports["exchange"]}
[client]
port = {ports["user"]}
server_url = "{server_url}"
[plugins]
enabled = ["peek_plugin_noop", "peek_plugin_user"]
[vortex]
heartbeat = 0.5
grace = 0.5
[plugin.peek_plugin_user]
initial_admin = "{USERNAME}"
initial_admin_password_file = "{password_file}"
[plugin.peek_plugin_user.argon2]
time_cost = 1
memory_cost = 64
parallelism = 1
""",
        encoding="utf-8",
    )
    config = load_config(path)
    _, token = TokenStore(token_store_path(config)).create("client", "ts-vortex-tests")
    write_secret_file(config.token_file("client"), token)
    return {"config": str(path), "ports": ports, "username": USERNAME, "password": PASSWORD}


# The same values are written out in test/codec.test.ts: a change on one side
# only fails the byte comparison, it cannot drift silently.
WHEN = datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
FIXTURES: dict[str, tuple[dict[str, Any], list[Tuple], int | None]] = {
    "echo_every_field": (
        {"t": "act", "id": "fixture-1", "key": "noop.Echo", "timeout": 5},
        [
            Echo(
                text="héllo ✓ 𝄞",
                number=2**40,
                ratio=1.0,
                flag=True,
                when=WHEN,
                day=datetime.date(2024, 2, 29),
                amount=decimal.Decimal("12.30"),
                raw=bytes(range(256)),
                items=[0, -1, 127, 128, -33, 65535, -(2**31)],
                table={"a": "b", "ü": ""},
                note=Note(text="nested"),
                notes=[Note(text="x"), Note(text="y")],
                nothing=None,
            )
        ],
        None,
    ),
    "echo_defaults": ({"t": "reply", "id": "fixture-2"}, [Echo()], None),
    "echo_edges": (
        {"t": "reply", "id": "fixture-3"},
        [
            Echo(number=2**63 - 1, ratio=-0.1, items=[-(2**63), 2**53 + 1]),
            Echo(when=datetime.datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC)),
            Echo(when=datetime.datetime(2600, 1, 1, tzinfo=UTC)),
            Echo(when=datetime.datetime(2000, 1, 1, tzinfo=UTC), amount=decimal.Decimal("-1E+3")),
        ],
        None,
    ),
    "counter_data": (
        {
            "t": "data",
            "plugin": "noop",
            "key": "noop.Counter",
            "selector": {"name": "a"},
            "anon": True,
        },
        [Counter(name="a", value=3, updated=datetime.datetime(2024, 1, 1, tzinfo=UTC))],
        None,
    ),
    "compressed_notes": (
        {"t": "reply", "id": "fixture-4"},
        [Note(text=f"note {i} " * 4) for i in range(200)],
        1024,
    ),
}


def codec(request: dict[str, Any]) -> dict[str, Any]:
    registry = TupleRegistry()
    registry.register("noop", *ALL_TUPLES)
    fixtures = {
        name: encode_frame(header, registry.encode(tuples), compress_over=over).hex()
        for name, (header, tuples, over) in FIXTURES.items()
    }
    decoded: dict[str, Any] = {}
    for name, data in request.get("frames", {}).items():
        header, tuples, _ = FIXTURES[name]
        try:
            frame = decode_frame(bytes.fromhex(data), MAX_FRAME)
            got = registry.decode(frame.payload(MAX_FRAME))
        except (FrameError, ValueError) as exc:
            decoded[name] = {"equal": False, "error": str(exc)}
            continue
        decoded[name] = {
            "equal": frame.header == header and got == tuples,
            "compressed": bool(frame.flags & 1),
            "header": repr(frame.header),
            "tuples": repr(got),
        }
    return {"fixtures": fixtures, "decoded": decoded}


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "setup":
        result = setup(Path(argv[1]))
    elif argv == ["codec"]:
        result = codec(json.loads(sys.stdin.read() or "{}"))
    else:
        sys.stderr.write(__doc__ or "")
        return 2
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
