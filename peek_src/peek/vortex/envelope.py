"""The vortex frame: a routing header readable without touching the body.

Layout (one WebSocket binary message, or one HTTP body; see PROTOCOL.md)::

    offset 0   u8     magic 0xA7 (vortex frame, version 1)
    offset 1   u8     flags: bit 0 = body is zlib-compressed (RFC 1950); others 0
    offset 2   u16be  header length H (1..MAX_HEADER)
    offset 4   H      header: a MessagePack map with string keys, "t" = message type
    offset 4+H ...    body: MessagePack array of tuples (maybe compressed), or empty

A relay reads the header and forwards the frame bytes untouched.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from typing import Any

import msgspec

from peek.plugin.vortex import VortexError

__all__ = [
    "FLAG_COMPRESSED",
    "MAGIC",
    "MAX_HEADER",
    "Frame",
    "FrameError",
    "decode_frame",
    "encode_frame",
    "selector_id",
]

MAGIC = 0xA7
FLAG_COMPRESSED = 0x01
MAX_HEADER = 16 * 1024
_PREFIX = struct.Struct(">BBH")
_header_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(dict[str, Any])
_selector_encoder = msgspec.json.Encoder(order="sorted")


class FrameError(VortexError):
    """A frame was refused: ``code`` is ``malformed``, ``truncated`` or ``too_large``."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code} frame: {reason}")


class Frame:
    """A decoded frame: ``header`` (a dict), ``body`` as sent, and the whole ``data``."""

    __slots__ = ("body", "data", "flags", "header")

    def __init__(self, header: dict[str, Any], flags: int, body: bytes, data: bytes) -> None:
        self.header = header
        self.flags = flags
        self.body = body
        self.data = data

    @property
    def type(self) -> str:
        return str(self.header.get("t"))

    def payload(self, max_size: int) -> bytes:
        """The body, decompressed; FrameError ``too_large`` past ``max_size`` bytes."""
        if not self.flags & FLAG_COMPRESSED:
            if len(self.body) > max_size:
                raise FrameError("too_large", f"body of {len(self.body)} bytes > {max_size}")
            return self.body
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(self.body, max_size + 1)
        except zlib.error as exc:
            raise FrameError("malformed", f"body does not decompress: {exc}") from None
        if len(out) > max_size:
            raise FrameError("too_large", f"body inflates past {max_size} bytes")
        if not inflater.eof:
            raise FrameError("truncated", "compressed body ends early")
        return out


def encode_frame(
    header: Mapping[str, Any],
    body: bytes = b"",
    *,
    compress_over: int | None = None,
    flags: int = 0,
) -> bytes:
    """Frame ``header`` and ``body``. The body is compressed if longer than
    ``compress_over`` (give ``flags`` instead for a body compressed already)."""
    head = _header_encoder.encode(header)
    if len(head) > MAX_HEADER:
        raise FrameError("too_large", f"header of {len(head)} bytes > {MAX_HEADER}")
    if compress_over is not None and len(body) > compress_over and not flags:
        # Level 1: most of the size gain for a fraction of level 6's time
        # (bench/results/vortex.json, "encoding").
        body = zlib.compress(body, 1)
        flags = FLAG_COMPRESSED
    return b"".join((_PREFIX.pack(MAGIC, flags, len(head)), head, body))


def decode_frame(data: bytes, max_size: int) -> Frame:
    """Parse a frame's prefix and header; FrameError says why one is refused.

    The body is neither decompressed nor decoded here (see :meth:`Frame.payload`).
    """
    size = len(data)
    if size > max_size:
        raise FrameError("too_large", f"{size} bytes > {max_size}")
    if size < 4:
        raise FrameError("truncated", f"{size} bytes is shorter than the 4-byte prefix")
    # The prefix by indexing: cheaper than a struct unpack on every frame.
    magic, flags, head_len = data[0], data[1], data[2] << 8 | data[3]
    if magic != MAGIC:
        raise FrameError("malformed", f"bad magic byte 0x{magic:02x}")
    if flags & ~FLAG_COMPRESSED:
        raise FrameError("malformed", f"unknown flags 0x{flags:02x}")
    end = 4 + head_len
    if head_len == 0 or end > size:
        raise FrameError("truncated", f"header of {head_len} bytes, {size - 4} present")
    try:
        header = _header_decoder.decode(data[4:end])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FrameError("malformed", f"header is not a MessagePack map: {exc}") from None
    if not isinstance(header.get("t"), str):
        raise FrameError("malformed", 'header has no message type "t"')
    return Frame(header, flags, data[end:], data)


def selector_id(plugin: str, key: str, selector: Mapping[str, Any] | None) -> str:
    """The identity of a subscription: plugin, key and the selector with sorted keys."""
    return f"{plugin}\x1f{key}\x1f{_selector_encoder.encode(selector or {}).decode()}"
