"""Alembic's entry point for every Peek history; the logic is in :mod:`peek.storage.migrate`."""

from peek.storage.migrate import run_environment

run_environment()
