"""Data shapes other plugins may share with noop (none yet; vortex tuples land here)."""
