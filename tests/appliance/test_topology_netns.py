"""Topology (1) of the VM tests, on this machine: network namespaces, veth links,
the NixOS firewall of Peek's modules as nftables rules, real Peek processes.

The hosts, their VLANs and their Peek options come from
``vm_tests/topology-hosts.nix``; each host's firewall is what Peek's NixOS
modules make of that configuration (evaluated with nixpkgs' module system),
rendered the way the NixOS nftables firewall renders it (input policy drop,
loopback and established traffic accepted, global and per-interface TCP
ports accepted). Everything the test creates is named per run and removed
in ``finally``, whatever fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from netnskit import Namespaces
from netnskit import run as _run

from appliance.nixeval import EVAL, nix_eval
from peek.testing.requirements import require_commands, require_root

pytestmark = pytest.mark.netns

STARTUP_TIMEOUT = 45.0
CONNECT_TIMEOUT = 1.0
# Stand-ins for what must stay unreachable: PostgreSQL, RabbitMQ, Redis on
# the server; on the agent, ports something might listen on by mistake.
DECOY_PORTS = {"server": [5432, 5672, 6379], "agent": [22, 8000, 8010, 8011]}

# (from host, to host, segment of the address dialled, port) -> reachable?
REACHABILITY: dict[tuple[str, str, str, int], bool] = {
    ("browser", "client", "users", 8000): True,
    ("client", "server", "front", 8011): True,
    ("agent", "server", "dmz", 8011): True,
    ("admin", "server", "admin", 8010): True,
    # The DMZ reaches the exchange site and nothing else of the server.
    ("agent", "server", "dmz", 8010): False,
    ("agent", "server", "dmz", 5432): False,
    ("agent", "server", "dmz", 5672): False,
    ("agent", "server", "dmz", 6379): False,
    # Admins reach the admin site and nothing else.
    ("admin", "server", "admin", 8011): False,
    ("admin", "server", "admin", 5432): False,
    ("admin", "server", "admin", 6379): False,
    # The client's link does not expose the admin site or the database.
    ("client", "server", "front", 8010): False,
    ("client", "server", "front", 5432): False,
    # Browsers reach only the client.
    ("browser", "server", "front", 8011): False,
    # Nothing reaches the agent.
    ("server", "agent", "dmz", 22): False,
    ("server", "agent", "dmz", 8000): False,
    ("server", "agent", "dmz", 8011): False,
}

PROBE = textwrap.dedent(
    """
    import json, socket, sys
    from concurrent.futures import ThreadPoolExecutor
    def probe(target):
        host, port = target
        try:
            socket.create_connection((host, port), timeout=float(sys.argv[1])).close()
            return True
        except OSError:
            return False
    targets = [tuple(t) for t in json.load(sys.stdin)]
    with ThreadPoolExecutor(len(targets) or 1) as pool:
        print(json.dumps(list(pool.map(probe, targets))))
    """
)

DECOY = textwrap.dedent(
    """
    import signal, socket, sys
    sockets = []
    for port in sys.argv[1:]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen()
        sockets.append(s)
    print("listening", flush=True)
    signal.pause()
    """
)


@dataclass
class Topology:
    run_id: str
    hosts: dict[str, dict[str, Any]]
    segments: dict[str, int]
    firewalls: dict[str, dict[str, Any]]
    data: Path
    nets: Namespaces = field(init=False)

    def __post_init__(self) -> None:
        self.nets = Namespaces(prefix=f"pk{self.run_id}", logs=self.data)

    @property
    def processes(self) -> list[subprocess.Popen[str]]:
        return self.nets.processes

    def ns(self, host: str) -> str:
        return self.nets.ns(host)

    def address(self, host: str, segment: str) -> str:
        return f"10.231.{self.segments[segment]}.{self.hosts[host]['number']}"

    def run_in(self, host: str, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.nets.run_in(host, *argv, **kwargs)

    def spawn(self, host: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return self.nets.spawn(host, argv, env)

    def logs(self) -> str:
        return self.nets.log_text()


def nftables_ruleset(firewall: dict[str, Any]) -> str:
    """The NixOS firewall options as the NixOS nftables firewall applies them."""
    rules = [
        'iifname "lo" accept',
        "ct state vmap { invalid : drop, established : accept, related : accept }",
    ]
    if firewall["allowPing"]:
        rules.append("icmp type echo-request accept")
    if firewall["allowedTCPPorts"]:
        ports = ", ".join(map(str, sorted(firewall["allowedTCPPorts"])))
        rules.append(f"tcp dport {{ {ports} }} accept")
    for interface, allowed in sorted(firewall["interfaces"].items()):
        if allowed["allowedTCPPorts"]:
            ports = ", ".join(map(str, sorted(allowed["allowedTCPPorts"])))
            rules.append(f'iifname "{interface}" tcp dport {{ {ports} }} accept')
    if firewall["rejectPackets"]:
        rules.append("meta l4proto tcp reject with tcp reset")
        rules.append("reject")
    body = "\n".join(f"    {rule}" for rule in rules)
    return (
        "table inet nixos-fw {\n"
        "  chain input {\n"
        "    type filter hook input priority filter; policy drop;\n"
        f"{body}\n"
        "  }\n"
        "}\n"
    )


def _peek_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEEK", "NOTIFY_SOCKET"))}
    env.update(
        PEEK__DATA_DIR=str(data_dir),
        PEEK__PLUGINS__ENABLED='["peek_plugin_noop"]',
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def _evaluate_topology() -> dict[str, Any]:
    result: dict[str, Any] = nix_eval(
        "let topology = import ./vm_tests/topology-hosts.nix; in topology // {"
        f" firewalls = lib.mapAttrs (_: host: (import {EVAL} {{ inherit lib;"
        " modules = [ host.module ]; }).firewall) topology.hosts; }"
    )
    return result


def _build(topology: Topology) -> None:
    nets = topology.nets
    for host in topology.hosts:
        nets.add(host)
    for segment, vlan in topology.segments.items():
        members = [h for h, spec in topology.hosts.items() if vlan in spec["vlans"]]
        assert len(members) == 2, f"segment {segment} links {members}; a veth links two"
        a, b = members
        tmp = (f"pk{topology.run_id}v{vlan}a", f"pk{topology.run_id}v{vlan}b")
        nets.link(a, b, tmp)
        for host, tmp_name in ((a, tmp[0]), (b, tmp[1])):
            # Named as the NixOS test driver names VLAN interfaces: eth<i>.
            name = f"eth{topology.hosts[host]['vlans'].index(vlan) + 1}"
            cidr = f"{topology.address(host, segment)}/24"
            nets.address(host, name, cidr, rename_from=tmp_name)
    for host in topology.hosts:
        nets.firewall(host, nftables_ruleset(topology.firewalls[host]))


def _start_peek(topology: Topology) -> None:
    python = sys.executable
    for host, ports in DECOY_PORTS.items():
        proc = topology.spawn(
            host, [python, "-c", DECOY, *map(str, ports)], _peek_env(topology.data)
        )
        assert proc.poll() is None
    server_data = topology.data / "server"
    topology.spawn(
        "server",
        [python, "-m", "peek", "server"],
        _peek_env(server_data, PEEK__SERVER__HOST="0.0.0.0"),
    )
    for kind, segment in (("client", "front"), ("agent", "dmz")):
        # Made in the server's data dir, as an admin on the server host would.
        created = _run(
            python, "-m", "peek", "token", "create", "--service", kind, "--name", f"netns-{kind}",
            env=_peek_env(server_data),
        )  # fmt: skip
        token_file = topology.data / f"{kind}.token"
        token_file.write_text(created.stdout.strip() + "\n")
        token_file.chmod(0o600)
        server_url = f"http://{topology.address('server', segment)}:8011"
        extra = {
            f"PEEK__{kind.upper()}__SERVER_URL": server_url,
            f"PEEK__{kind.upper()}__TOKEN_FILE": str(token_file),
        }
        if kind == "client":
            extra["PEEK__CLIENT__HOST"] = "0.0.0.0"
        topology.spawn(kind, [python, "-m", "peek", kind], _peek_env(topology.data / kind, **extra))


def _status(topology: Topology) -> dict[str, Any] | None:
    result = subprocess.run(
        ["ip", "netns", "exec", topology.ns("server"), sys.executable, "-m", "peek",
         "status", "--json"],
        env=_peek_env(topology.data / "server"),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return None
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def _wait_until_connected(topology: Topology) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    status = None
    while time.monotonic() < deadline:
        for proc in topology.processes:
            if proc.poll() is not None:
                raise AssertionError(f"a process exited early:\n{topology.logs()}")
        status = _status(topology)
        if status:
            running = {s["kind"] for s in status["services"] if s["state"] == "running"}
            if {"server", "client", "agent"} <= running:
                return status
        time.sleep(0.5)
    raise AssertionError(f"client and agent did not connect: {status}\n{topology.logs()}")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, dict[str, Any]]]:
    require_root()
    require_commands("ip", "nft", "nix-instantiate")
    spec = _evaluate_topology()
    topo = Topology(
        run_id=uuid.uuid4().hex[:6],
        hosts=spec["hosts"],
        segments=spec["segments"],
        firewalls=spec["firewalls"],
        data=tmp_path_factory.mktemp("netns"),
    )
    try:
        _build(topo)
        _start_peek(topo)
        status = _wait_until_connected(topo)
        yield topo, status
    finally:
        topo.nets.teardown()
        assert topo.nets.leftovers() == []


def test_modules_firewall_opens_exactly_the_topology_ports(topology):
    topo, _ = topology
    fw = topo.firewalls
    assert fw["agent"]["allowedTCPPorts"] == [] and fw["agent"]["interfaces"] == {}
    assert fw["client"]["allowedTCPPorts"] == [8000]
    assert fw["server"]["allowedTCPPorts"] == []
    assert {i: v["allowedTCPPorts"] for i, v in fw["server"]["interfaces"].items()} == {
        "eth1": [8011],
        "eth2": [8010],
        "eth3": [8011],
    }


def test_client_and_agent_run_and_report_to_the_server(topology):
    _, status = topology
    by_kind = {s["kind"]: s for s in status["services"]}
    for kind in ("client", "agent"):
        assert by_kind[kind]["state"] == "running"
        assert [p["name"] for p in by_kind[kind]["plugins"]] == ["peek_plugin_noop"]
        assert by_kind[kind]["plugins"][0]["state"] == "started"


def test_reachability_table_holds_both_ways(topology):
    topo, _ = topology
    # Every decoy and service answers from inside its own namespace, so a
    # refused connection below is the firewall's (or routing's) doing.
    for host, ports in {"server": [8010, 8011, *DECOY_PORTS["server"]], "agent":
                        DECOY_PORTS["agent"], "client": [8000]}.items():  # fmt: skip
        local = _probe(topo, host, [("127.0.0.1", p) for p in ports])
        assert all(local), f"{host} does not listen on all of {ports}"
    observed = {}
    for source in {key[0] for key in REACHABILITY}:
        checks = [key for key in REACHABILITY if key[0] == source]
        targets = [(topo.address(to, segment), port) for _, to, segment, port in checks]
        observed.update(zip(checks, _probe(topo, source, targets), strict=True))
    wrong = {
        f"{src} -> {to}:{port} via {segment}": "reached" if observed[key] else "refused"
        for key, expected in REACHABILITY.items()
        for (src, to, segment, port) in [key]
        if observed[key] != expected
    }
    assert wrong == {}


def _probe(topology: Topology, host: str, targets: list[tuple[str, int]]) -> list[bool]:
    result = topology.run_in(
        host,
        sys.executable,
        "-c",
        PROBE,
        str(CONNECT_TIMEOUT),
        input=json.dumps(targets),
    )
    answers: list[bool] = json.loads(result.stdout)
    return answers
