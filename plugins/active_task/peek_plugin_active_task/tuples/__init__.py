"""Data shapes other plugins may share with active_task (none yet; vortex tuples land here)."""
