"""Log lines name the service, the plugin and the level."""

from __future__ import annotations

import io
import json
import logging

from peek.logs import setup_logging


def test_json_lines_carry_service_and_plugin():
    stream = io.StringIO()
    setup_logging("client", "json", stream=stream)
    logging.getLogger("peek_plugin_noop._private.client").warning("hello %s", "there")
    logging.getLogger("peek.services.common").info("platform line")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["service"] == "client"
    assert first["plugin"] == "peek_plugin_noop"
    assert first["level"] == "WARNING"
    assert first["message"] == "hello there"
    assert second["plugin"] == "-"


def test_platform_lines_about_a_plugin_name_it():
    stream = io.StringIO()
    setup_logging("server", "text", stream=stream)
    logging.getLogger("peek.plugin.lifecycle").error("failed", extra={"plugin": "peek_plugin_x"})
    line = stream.getvalue()
    assert "[server] [peek_plugin_x]" in line
    assert "ERROR" in line
