"""Host backends: :mod:`.plain` (any host) and :mod:`.nixos` (the NixOS appliance).

:func:`host_backend` builds the one ``[rollout] backend`` selects.
"""

from __future__ import annotations

from peek.config import PeekConfig, ServiceKind
from peek.rollout.backend import HostBackend
from peek.rollout.backends.nixos import NixosHostBackend
from peek.rollout.backends.plain import PlainHostBackend

__all__ = ["host_backend"]


def host_backend(config: PeekConfig, kind: ServiceKind) -> HostBackend:
    """The host backend of a ``kind`` service, as ``config.rollout`` chooses it.

    ``"plain"`` keeps generations in the data directory; ``"nixos"`` hands
    them to root's ``peek-rebuild.service`` with the paths of
    ``[rollout.nixos]`` (unset ones: the layout ``modules/rebuild.nix`` makes).
    """
    rollout = config.rollout
    if rollout.backend == "nixos":
        nixos = rollout.nixos
        return NixosHostBackend(
            nixos.flake_dir or config.data_dir / "system-flake",
            nixos.request_dir or config.data_dir / "rebuild",
            nixos.state_dir,
            build_timeout=nixos.build_timeout or rollout.prepare_timeout,
            rebuild_timeout=nixos.switch_timeout,
            services=[kind],
            import_timeout=rollout.import_timeout,
        )
    return PlainHostBackend(config.data_dir, services=[kind], import_timeout=rollout.import_timeout)
