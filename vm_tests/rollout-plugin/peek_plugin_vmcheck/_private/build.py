"""How this build was made. vm_tests/rollout-plugin.nix sets BROKEN for the broken wheel."""

BROKEN = False
