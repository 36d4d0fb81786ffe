"""vmcheck: the plugin Peek's rollout VM test uploads (see vm_tests/plugin-rollout.nix)."""
