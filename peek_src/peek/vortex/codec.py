"""The tuple registry of one service, and the payload codec built from it.

A payload is a MessagePack array of tuples, each a map whose ``_t`` key holds
the tuple's name (msgspec tagged structs). msgspec's MessagePack codec won the
measurement in ``bench/vortex.py`` (fastest to encode and decode, smallest
before compression) against msgspec JSON, orjson and the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Union

import msgspec

from peek.plugin.tuples import (
    TAG_FIELD,
    Tuple,
    TupleDefinitionError,
    UnknownTuple,
    check_tuple_type,
)
from peek.vortex.envelope import FrameError

__all__ = ["TupleRegistry"]

_encoder = msgspec.msgpack.Encoder()


class TupleRegistry:
    """The tuple classes registered on one service, by name. Not shared between services."""

    def __init__(self) -> None:
        self._types: dict[str, type[Tuple]] = {}
        self._decoder: msgspec.msgpack.Decoder[list[Any]] | None = None

    def register(self, plugin: str, *types: type[Tuple]) -> None:
        """Register ``plugin``'s tuple classes; TupleDefinitionError on a bad or taken name."""
        checked = [(check_tuple_type(plugin, cls), cls) for cls in types]
        for name, cls in checked:
            known = self._types.get(name)
            if known is not None and known is not cls:
                raise TupleDefinitionError(cls, f"the name {name!r} is registered already")
        for name, cls in checked:
            self._types[name] = cls
        self._decoder = None

    def names(self) -> list[str]:
        return sorted(self._types)

    def get(self, name: str) -> type[Tuple] | None:
        return self._types.get(name)

    @staticmethod
    def encode(tuples: Iterable[Tuple]) -> bytes:
        """The payload of ``tuples`` (uncompressed; the frame compresses)."""
        return _encoder.encode(list(tuples))

    def decode(self, payload: bytes) -> list[Tuple]:
        """The tuples in ``payload``.

        Raises :class:`UnknownTuple` for a name not registered here, and
        :class:`FrameError` (``malformed``) for anything else wrong.
        """
        if not self._types:
            return self._decode_nothing_known(payload)
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = self._build_decoder()
        try:
            result: list[Tuple] = decoder.decode(payload)
        except msgspec.ValidationError as exc:
            unknown = self._unknown_name(payload)
            if unknown is not None:
                raise UnknownTuple(unknown) from None
            raise FrameError("malformed", f"payload does not match its tuples: {exc}") from None
        except msgspec.DecodeError as exc:
            raise FrameError("malformed", f"payload is not MessagePack: {exc}") from None
        return result

    def _decode_nothing_known(self, payload: bytes) -> list[Tuple]:
        try:
            raw = msgspec.msgpack.decode(payload)
        except msgspec.DecodeError as exc:
            raise FrameError("malformed", f"payload is not MessagePack: {exc}") from None
        if not isinstance(raw, list):
            raise FrameError("malformed", "a payload is an array of tuples")
        if raw:
            name = _first_unknown(raw, self._types)
            raise UnknownTuple(name or "?")
        return []

    def _build_decoder(self) -> msgspec.msgpack.Decoder[list[Any]]:
        types = tuple(self._types.values())
        item: Any = types[0] if len(types) == 1 else Union[types]  # noqa: UP007
        return msgspec.msgpack.Decoder(list[item])

    def _unknown_name(self, payload: bytes) -> str | None:
        # Only on the error path: find the first item (at any depth) whose name is unknown.
        try:
            raw = msgspec.msgpack.decode(payload)
        except msgspec.DecodeError:
            return None
        return _first_unknown(raw, self._types)


def _first_unknown(value: Any, known: dict[str, type[Tuple]]) -> str | None:
    if isinstance(value, dict):
        name = value.get(TAG_FIELD)
        if isinstance(name, str) and name not in known:
            return name
        values: Sequence[Any] = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = _first_unknown(item, known)
        if found is not None:
            return found
    return None
