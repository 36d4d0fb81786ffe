"""Logging set-up: one line per event naming the service, the plugin and the level.

Plugins log with ``logging.getLogger(__name__)`` (or ``ctx.logger``); the
plugin column is taken from the logger name (``peek_plugin_<x>...``) or from
``extra={"plugin": name}`` when the platform logs about a plugin.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal, TextIO

__all__ = ["LogFormat", "setup_logging"]

LogFormat = Literal["text", "json"]

_PLUGIN_PREFIX = "peek_plugin_"


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not getattr(record, "plugin", None):
            head = record.name.split(".", 1)[0]
            record.plugin = head if head.startswith(_PLUGIN_PREFIX) else "-"
        return True


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)-7s [%(service)s] [%(plugin)s] %(name)s: %(message)s"
        )


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": getattr(record, "service", "-"),
            "plugin": getattr(record, "plugin", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    service: str,
    fmt: LogFormat = "text",
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
) -> None:
    """Send every log record of this process to ``stream`` (stderr) in ``fmt``.

    Called once per process by the CLI; replaces handlers set before.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp logs every request at INFO; a busy site would drown the plugin lines.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces each of its own extension hooks at INFO on every import.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
