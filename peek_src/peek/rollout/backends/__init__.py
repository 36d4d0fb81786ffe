"""Host backends: :mod:`.plain` (any host) and :mod:`.nixos` (the NixOS appliance)."""
