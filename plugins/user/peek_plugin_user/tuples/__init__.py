"""Data shapes other plugins may share with user (none yet; vortex tuples land here)."""
