"""The ``peek`` command: argument parsing and output only."""
