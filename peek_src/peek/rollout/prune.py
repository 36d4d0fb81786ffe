"""Pruning: which generations a host keeps on disk, and removing what no kept one uses.

The history in the database keeps every generation forever; what goes is on
disk: the generation directories a host backend composed, the plugin
install directories only they used, and the artifacts (wheels) no kept
generation references. The server decides what is kept
(:func:`generations_to_keep`) and every host applies it with
:func:`prune_host`, after a successful rollout and on ``peek plugin prune``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from peek.rollout.artifacts import ArtifactStore
from peek.rollout.backend import HostBackend

__all__ = ["PruneResult", "generations_to_keep", "prune_host"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneResult:
    """What a host kept and what it deleted."""

    kept: tuple[int, ...]
    removed_generations: tuple[int, ...]
    removed_artifacts: tuple[str, ...]

    def as_json(self) -> dict[str, list[int] | list[str]]:
        return {
            "kept": list(self.kept),
            "removed_generations": list(self.removed_generations),
            "removed_artifacts": list(self.removed_artifacts),
        }


def generations_to_keep(
    numbers: Iterable[int],
    *,
    keep: int,
    active: int | None,
    parent: int | None,
    also: Iterable[int | None] = (),
) -> frozenset[int]:
    """The newest ``keep`` of ``numbers``, plus the active generation, its parent and
    ``also`` (a rollout in flight), whatever their age."""
    if keep < 1:
        raise ValueError("keep at least one generation")
    newest = sorted(set(numbers), reverse=True)[:keep]
    extra = {n for n in (active, parent, *also) if n is not None}
    return frozenset(newest) | extra


def prune_host(
    backend: HostBackend, store: ArtifactStore, keep: Iterable[int], artifacts: Iterable[str]
) -> PruneResult:
    """Blocking: forget this host's prepared generations outside ``keep`` (the backend
    removes the install directories only they used) and every stored artifact outside
    ``artifacts`` (the hashes the kept generations reference)."""
    kept = frozenset(keep)
    before = set(backend.prepared())
    backend.prune(sorted(kept))
    removed_generations = tuple(sorted(before - set(backend.prepared())))
    removed_artifacts = tuple(store.collect_garbage(artifacts))
    if removed_generations or removed_artifacts:
        log.info(
            "pruned plugin generations %s and %d artifacts no kept generation uses",
            ", ".join(map(str, removed_generations)) or "(none)",
            len(removed_artifacts),
        )
    return PruneResult(tuple(sorted(kept)), removed_generations, removed_artifacts)
