"""Shared test set-up: blocking calls on the event loop fail the test (blockbuster),
as aiohttp's own suite does."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

SCANNED = ["peek", "peek_plugin_noop", "peek_plugin_user", "peek_plugin_active_task"]


@pytest.fixture(autouse=True)
def blockbuster(request: pytest.FixtureRequest) -> Iterator[BlockBuster | None]:
    # Only Peek's own code is scanned: a blocking call it makes from the loop
    # is a bug; the test's own set-up may block.
    if not request.node.get_closest_marker("asyncio") and not _is_async(request):
        yield None
        return
    scanned = [m for m in SCANNED if importlib.util.find_spec(m) is not None]
    with blockbuster_ctx(scanned, excluded_modules=["peek.testing"]) as bb:
        # The action journal appends each record to the page cache from the loop on
        # purpose (a few microseconds, no fsync; peek/vortex/journal.py says why).
        bb.functions["os.write"].can_block_in("peek/vortex/journal.py", "_append")
        yield bb


def _is_async(request: pytest.FixtureRequest) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(request.node, "function", None))
