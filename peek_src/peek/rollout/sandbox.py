"""Running untrusted plugin code (builds, import checks) in a bounded child process.

The child gets a scrubbed environment (no credentials or settings of the
service leak in; ``HOME`` and ``TMPDIR`` point into the caller's staging
directory, pip's index and cache are off, and the standard proxy variables
point at a closed local port so that a build which tries the network fails
fast), no network (:mod:`peek.rollout.nonet`: it cannot open any socket but a
unix one, nor can its children), its own process group, and a deadline
after which the whole group is killed. This bounds time, keeps the upload's
code off the network and keeps writes to the staging directory for
well-behaved tools; it is not a full sandbox against hostile code, which
still runs with the service user's rights (files it can read, unix sockets
it can reach). Blocking.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from peek.rollout import nonet

__all__ = ["ChildResult", "run_bounded", "scrubbed_env"]

log = logging.getLogger(__name__)

# After the deadline the group is killed; reading what it printed may take this long.
_REAP_TIMEOUT = 5.0
# The discard port on loopback: nothing listens, so a connection fails at once.
_NO_PROXY_URL = "http://127.0.0.1:9"


@dataclass(frozen=True)
class ChildResult:
    """What a bounded child did: its exit code (None if it was killed at the deadline)."""

    returncode: int | None
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of stderr then stdout, for an error message."""
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


def scrubbed_env(home: Path) -> dict[str, str]:
    """A minimal environment for a child whose home and temporary files live in ``home``."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PIP_NO_INDEX": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "http_proxy": _NO_PROXY_URL,
        "https_proxy": _NO_PROXY_URL,
        "HTTP_PROXY": _NO_PROXY_URL,
        "HTTPS_PROXY": _NO_PROXY_URL,
        "ALL_PROXY": _NO_PROXY_URL,
        "no_proxy": "",
    }


def run_bounded(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> ChildResult:
    """Run ``argv`` without network in a new process group; kill the group after
    ``timeout`` seconds. Blocking."""
    result = _run(nonet.command(argv), cwd=cwd, env=env, timeout=timeout)
    if nonet.UNAVAILABLE in result.stderr:
        reason = next(line for line in result.stderr.splitlines() if nonet.UNAVAILABLE in line)
        log.warning("%s; %s ran with network access", reason, Path(argv[0]).name)
    return result


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> ChildResult:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return ChildResult(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # A grandchild left the group and holds the pipes: stop reading.
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait()
            out, err = "", ""
        return ChildResult(None, out, err)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
