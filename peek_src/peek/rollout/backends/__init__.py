"""Host backends: :mod:`.plain` here; the NixOS backend belongs to the appliance."""
