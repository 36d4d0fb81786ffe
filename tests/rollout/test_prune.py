"""``peek.rollout.prune``: which generations a host keeps, and that pruning a host never
removes what a kept generation needs (generation directories, installs, artifacts)."""

from __future__ import annotations

import pytest

from peek.rollout.prune import generations_to_keep, prune_host

from .sites import file_digest
from .test_plain_backend import Host, Wheels, generation, host, wheels  # noqa: F401


def test_the_newest_generations_are_kept() -> None:
    assert generations_to_keep(range(1, 11), keep=3, active=10, parent=9) == {8, 9, 10}


def test_the_active_generation_and_its_parent_are_kept_however_old() -> None:
    # A rollback made generation 2 active again, from parent 1.
    kept = generations_to_keep(range(1, 11), keep=2, active=2, parent=1)
    assert kept == {1, 2, 9, 10}


def test_a_rollout_in_flight_is_kept() -> None:
    assert 11 in generations_to_keep(range(1, 12), keep=1, active=10, parent=9, also=(11, None))


def test_keeping_no_generation_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        generations_to_keep([1, 2], keep=0, active=2, parent=1)


def test_pruning_a_host_removes_only_what_no_kept_generation_uses(
    host: Host,  # noqa: F811
    wheels: Wheels,  # noqa: F811
) -> None:
    gens = [
        generation(1, wheels.weather1, wheels.station),
        generation(2, wheels.weather2, wheels.station),
        generation(3, wheels.weather1),
    ]
    for gen in gens:
        host.backend.prepare(gen, host.fetch)
    host.backend.switch(3)
    keep = [2, 3]
    referenced = gens[1].artifacts() | gens[2].artifacts()

    result = prune_host(host.backend, host.store, keep, referenced)

    assert result.removed_generations == (1,)
    assert host.backend.prepared() == [2, 3]
    assert {a.sha256 for a in host.store.entries()} == referenced
    # The two broken wheels were stored, but no generation ever used them.
    assert set(result.removed_artifacts) == {
        file_digest(wheels.broken),
        file_digest(wheels.broken_client),
    }
    # Every kept generation still has everything it needs: it imports and switches.
    for gen in gens[1:]:
        host.backend.import_check(gen)
    host.backend.rollback(2)
    assert host.backend.active() == 2
