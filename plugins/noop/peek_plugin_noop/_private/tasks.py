"""noop's worker tasks (run in the worker's pool processes)."""

from __future__ import annotations

from typing import Any

from peek.plugin import task


@task(idempotent=True)
def echo(value: Any) -> dict[str, Any]:
    """Answer with ``value``: the server's ``/plugins/noop/echo`` queues it."""
    return {"echo": value}
