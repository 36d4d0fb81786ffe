"""A rollout through a firewall: the client and the agent each in a network namespace of their
own, linked to the server's namespace by veth pairs, and the server's nftables firewall
letting in nothing but its data-exchange port. They fetch manifests and artifacts over that
port alone and switch with everyone else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netnskit import Namespaces

from peek.config import load_config
from peek.services.server import token_store_path
from peek.testing.requirements import require_commands, require_root
from peek.vortex.tokens import TokenStore, write_secret_file

from .pluginkit import plugin_wheel

pytestmark = pytest.mark.netns

ADMIN, EXCHANGE = 18310, 18311
SUBNETS = {"client": "10.233.1", "agent": "10.233.2"}
STARTUP_TIMEOUT = 45.0
CLI_TIMEOUT = 120.0

FIREWALL = textwrap.dedent(
    f"""
    table inet peek-test {{
      chain input {{
        type filter hook input priority filter; policy drop;
        iifname "lo" accept
        ct state vmap {{ invalid : drop, established : accept, related : accept }}
        tcp dport {EXCHANGE} accept
      }}
    }}
    """
)

PROBE = textwrap.dedent(
    """
    import socket, sys
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        print("open")
    except OSError:
        print("closed")
    """
)


def env_for(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEEK", "NOTIFY_SOCKET"))}
    return {**env, "PEEK_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}


def write_configs(root: Path) -> dict[str, Path]:
    configs = {}
    server = root / "server.toml"
    server.write_text(
        f'data_dir = "{root / "server"}"\n[server]\nhost = "0.0.0.0"\n'
        f"admin_port = {ADMIN}\nexchange_port = {EXCHANGE}\n"
        '[plugins]\nenabled = ["peek_plugin_noop"]\n'
    )
    configs["server"] = server
    store = TokenStore(token_store_path(load_config(server)))
    for kind, subnet in SUBNETS.items():
        _, token = store.create(kind, f"netns-{kind}")
        token_file = root / f"{kind}.token"
        write_secret_file(token_file, token + "\n")
        path = root / f"{kind}.toml"
        path.write_text(
            f'data_dir = "{root / kind}"\n[{kind}]\n'
            f'server_url = "http://{subnet}.1:{EXCHANGE}"\ntoken_file = "{token_file}"\n'
            + ("port = 0\n" if kind == "client" else "")
            + '[plugins]\nenabled = ["peek_plugin_noop"]\n'
        )
        configs[kind] = path
    return configs


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[tuple[Namespaces, dict[str, Path]]]:
    require_root()
    require_commands("ip", "nft")
    nets = Namespaces(f"pr{uuid.uuid4().hex[:6]}", tmp_path)
    try:
        for host in ("server", "client", "agent"):
            nets.add(host)
        for i, (host, subnet) in enumerate(SUBNETS.items()):
            tmp = (f"{nets.prefix}s{i}", f"{nets.prefix}h{i}")
            nets.link("server", host, tmp)
            nets.address("server", f"eth{i + 1}", f"{subnet}.1/24", rename_from=tmp[0])
            nets.address(host, "eth1", f"{subnet}.2/24", rename_from=tmp[1])
        nets.firewall("server", FIREWALL)
        configs = write_configs(tmp_path)
        python = sys.executable
        for host in ("server", "client", "agent"):
            nets.spawn(host, [python, "-m", "peek", host], env_for(configs[host]))
        yield nets, configs
    finally:
        nets.teardown()
        assert nets.leftovers() == []


def peek_in_server(nets: Namespaces, config: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        ["ip", "netns", "exec", nets.ns("server"), sys.executable, "-m", "peek", *args],
        env=env_for(config), capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def wait_connected(nets: Namespaces, config: Path) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    status: Any = None
    while time.monotonic() < deadline:
        code, out, _ = peek_in_server(nets, config, "status", "--json")
        if code == 0:
            status = json.loads(out)
            running = {s["kind"] for s in status["services"] if s["state"] == "running"}
            if {"server", "client", "agent"} <= running:
                return dict(status)
        time.sleep(0.5)
    raise AssertionError(f"not connected: {status}\n{nets.log_text()}")


def test_services_behind_a_firewall_get_the_upload_through_the_exchange_port_only(
    topology: tuple[Namespaces, dict[str, Path]], tmp_path: Path
) -> None:
    nets, configs = topology
    wait_connected(nets, configs["server"])
    # The firewall is real: from the client, the exchange port answers, the admin port not.
    for port, expected in ((EXCHANGE, "open"), (ADMIN, "closed")):
        out = nets.run_in("client", sys.executable, "-c", PROBE, "10.233.1.1", str(port)).stdout
        assert out.strip() == expected, port
    wheel = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    code, out, err = peek_in_server(nets, configs["server"], "plugin", "upload", str(wheel))
    assert code == 0, out + err + nets.log_text()
    assert "client netns-client: downloading" in out
    assert "agent netns-agent: downloading" in out
    status = wait_connected(nets, configs["server"])
    for svc in status["services"]:
        assert svc["generation"] == 2
        assert {p["name"]: p["version"] for p in svc["plugins"]}["peek_plugin_probe"] == "1.0.0"
    for kind in ("client", "agent"):
        assert list((tmp_path / kind / "artifacts" / "sha256").rglob("*.whl"))
