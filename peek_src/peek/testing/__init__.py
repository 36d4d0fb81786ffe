"""Helpers for testing Peek and Peek plugins; the pytest fixtures live in
:mod:`peek.testing.pytest_plugin` (loaded automatically once Peek is installed).

A plugin's own tests then read like::

    from peek.testing import assert_plugin_conforms

    def test_conforms():
        assert_plugin_conforms("peek_plugin_weather")

    async def test_forecast_route(peek_server):
        server = await peek_server(["peek_plugin_weather"])
        ...
"""

from peek.testing.conformance import ConformanceError, assert_plugin_conforms
from peek.testing.pytest_plugin import ServerFactory, UpstreamFactory
from peek.testing.services import admin_headers, free_config, installed_specs

__all__ = [
    "ConformanceError",
    "ServerFactory",
    "UpstreamFactory",
    "admin_headers",
    "assert_plugin_conforms",
    "free_config",
    "installed_specs",
]
