"""Network namespaces for tests that need real network separation (run as root).

Shared by the appliance topology test and the rollout firewall test:
:func:`run` runs a command and fails the test with its stderr, and
:class:`Namespaces` makes namespaces named per run, links them with veth
pairs, loads nftables rulesets into them, runs processes inside them and
removes all of it again, whatever failed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Namespaces", "run"]


def run(
    *argv: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; an AssertionError with its stderr if it fails."""
    result = subprocess.run(
        argv, input=input, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


@dataclass
class Namespaces:
    """Namespaces ``<prefix>-<host>`` and the processes started in them."""

    prefix: str
    logs: Path
    names: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def add(self, host: str) -> None:
        run("ip", "netns", "add", self.ns(host))
        self.names.append(self.ns(host))
        self.run_in(host, "ip", "link", "set", "lo", "up")

    def link(self, a: str, b: str, tmp: tuple[str, str]) -> None:
        """A veth pair between hosts ``a`` and ``b`` (named ``tmp`` until renamed)."""
        run(
            "ip", "link", "add", tmp[0], "netns", self.ns(a),
            "type", "veth", "peer", "name", tmp[1], "netns", self.ns(b),
        )  # fmt: skip

    def address(self, host: str, device: str, cidr: str, *, rename_from: str | None = None) -> None:
        """Bring ``device`` up in ``host`` with address ``cidr`` (renaming ``rename_from``)."""
        if rename_from is not None:
            self.run_in(host, "ip", "link", "set", rename_from, "name", device)
        self.run_in(host, "ip", "addr", "add", cidr, "dev", device)
        self.run_in(host, "ip", "link", "set", device, "up")

    def firewall(self, host: str, ruleset: str) -> None:
        self.run_in(host, "nft", "-f", "-", input=ruleset)

    def run_in(self, host: str, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.ns(host), *argv, **kwargs)

    def spawn(self, host: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        log = (self.logs / f"{host}-{len(self.processes)}.log").open("w")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *argv],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        log.close()
        self.processes.append(proc)
        return proc

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.logs.glob("*.log"))

    def teardown(self) -> None:
        """Stop every process (TERM, then KILL) and delete every namespace."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    def leftovers(self) -> list[str]:
        listed = run("ip", "netns", "list").stdout
        return [line.split()[0] for line in listed.splitlines() if line.startswith(self.prefix)]
