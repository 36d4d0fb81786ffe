"""Peek: a platform that boots, runs, connects and upgrades plugins across services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("peek-platform")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
