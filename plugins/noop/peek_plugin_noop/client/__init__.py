"""The public API noop publishes on the client: the same :class:`NoopApi` as on the server."""

from peek_plugin_noop.server import NoopApi

__all__ = ["NoopApi"]
