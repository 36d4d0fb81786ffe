"""Frames and tuples: every field type round-trips, routing is read without the
body, and bad frames and unknown tuples are refused with a reason."""

from __future__ import annotations

import datetime
import decimal
import os
import zlib

import msgspec
import pytest

from peek.plugin import AwareDatetime, Tuple, TupleDefinitionError, UnknownTuple
from peek.vortex.codec import TupleRegistry
from peek.vortex.envelope import FLAG_COMPRESSED, FrameError, decode_frame, encode_frame
from peek_plugin_noop.tuples import ALL_TUPLES, Echo, Note

MAX = 1 << 20


def registry() -> TupleRegistry:
    reg = TupleRegistry()
    reg.register("noop", *ALL_TUPLES)
    return reg


EVERY_FIELD = Echo(
    text="grüße ✓",
    number=-(2**62),
    ratio=1.5e-300,
    flag=True,
    when=datetime.datetime(
        2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone(datetime.timedelta(hours=10))
    ),
    day=datetime.date(1999, 12, 31),
    amount=decimal.Decimal("12345678901234567890.000000001"),
    raw=bytes(range(256)),
    items=[1, 2, 3],
    table={"a": "b", "": "empty key"},
    note=Note(text="nested"),
    notes=[Note(text="one"), Note(text="two")],
    nothing=None,
)


def test_every_field_type_round_trips_through_a_compressed_frame():
    reg = registry()
    frame = encode_frame({"t": "data"}, reg.encode([EVERY_FIELD, Echo()]), compress_over=0)
    decoded = decode_frame(frame, MAX)
    assert decoded.flags & FLAG_COMPRESSED
    (echo, empty) = reg.decode(decoded.payload(MAX))
    assert echo == EVERY_FIELD and empty == Echo()
    # The same instant, delivered in UTC (MessagePack timestamps carry no zone).
    assert echo.when.utcoffset() == datetime.timedelta(0)
    assert isinstance(echo.amount, decimal.Decimal) and isinstance(echo.day, datetime.date)


def test_the_routing_header_is_read_without_decoding_or_inflating_the_body():
    body = zlib.compress(b"not messagepack at all" * 100)
    header = {"t": "data", "plugin": "noop", "key": "noop.Counter", "selector": {"name": "a"}}
    frame = decode_frame(encode_frame(header, body, flags=FLAG_COMPRESSED), MAX)
    assert frame.header == header
    assert frame.body == body  # untouched: a relay forwards it as is
    with pytest.raises(FrameError):
        registry().decode(frame.payload(MAX))


def test_an_unknown_tuple_name_is_a_typed_error_naming_it():
    payload = msgspec.msgpack.encode([{"_t": "elsewhere.Thing", "x": 1}])
    with pytest.raises(UnknownTuple) as unknown:
        registry().decode(payload)
    assert unknown.value.name == "elsewhere.Thing"


def test_an_unknown_nested_tuple_is_found_too():
    payload = msgspec.msgpack.encode([{"_t": "noop.Echo", "note": {"_t": "x.Hidden"}}])
    with pytest.raises(UnknownTuple, match=r"x\.Hidden"):
        registry().decode(payload)


def test_nothing_registered_means_every_tuple_is_unknown():
    with pytest.raises(UnknownTuple):
        TupleRegistry().decode(TupleRegistry.encode([Note(text="x")]))


def test_a_payload_of_the_wrong_shape_is_malformed():
    payload = msgspec.msgpack.encode([{"_t": "noop.Note", "text": 5}])
    with pytest.raises(FrameError) as bad:
        registry().decode(payload)
    assert bad.value.code == "malformed"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "truncated"),
        (b"\xa7\x00", "truncated"),
        (b"\xa7\x00\x00\x10\x81", "truncated"),
        (b"\xa7\x00\x00\x00", "truncated"),
        (b"\x00\x00\x00\x01\x80", "malformed"),
        (b"\xa7\x80\x00\x01\x80", "malformed"),
        (b"\xa7\x00\x00\x01\xc1", "malformed"),
        (b"\xa7\x00\x00\x01\x80", "malformed"),
        (b"\xa7\x00\x00\x03\x81\xa1t", "malformed"),
        (b"\xa7\x00" + bytes([0, 4]) + msgspec.msgpack.encode({"t": 1}), "malformed"),
    ],
)
def test_bad_frames_are_refused_with_a_code(data, code):
    with pytest.raises(FrameError) as refused:
        decode_frame(data, MAX)
    assert refused.value.code == code


def test_an_oversized_frame_is_refused():
    with pytest.raises(FrameError) as refused:
        decode_frame(encode_frame({"t": "act"}, os.urandom(2048)), 1024)
    assert refused.value.code == "too_large"


def test_a_body_that_inflates_past_the_limit_is_refused():
    bomb = encode_frame({"t": "act"}, zlib.compress(b"\0" * (10 * MAX)), flags=FLAG_COMPRESSED)
    frame = decode_frame(bomb, MAX)
    with pytest.raises(FrameError) as refused:
        frame.payload(MAX)
    assert refused.value.code == "too_large"


def test_a_cut_off_compressed_body_is_truncated():
    body = zlib.compress(os.urandom(4096))[:-10]
    frame = decode_frame(encode_frame({"t": "act"}, body, flags=FLAG_COMPRESSED), MAX)
    with pytest.raises(FrameError) as refused:
        frame.payload(MAX)
    assert refused.value.code in ("truncated", "malformed")


class Naive(Tuple, tag="noop.Naive"):
    when: datetime.datetime


class Stranger(Tuple, tag="other.Stranger"):
    x: int


class Untagged(Tuple):
    x: int


class Aware(Tuple, tag="noop.Aware"):
    when: AwareDatetime


@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        (Naive, "AwareDatetime"),
        (Stranger, "noop.<Name>"),
        (Untagged, "'Untagged' must be 'noop.<Name>'"),
        (Note.__struct_config__.__class__, "not a subclass"),
    ],
)
def test_registration_refuses_bad_tuples(cls, reason):
    with pytest.raises(TupleDefinitionError, match=reason):
        TupleRegistry().register("noop", cls)


def test_a_name_cannot_be_registered_by_two_classes():
    class Other(Tuple, tag="noop.Note"):
        y: int

    reg = registry()
    with pytest.raises(TupleDefinitionError, match="registered already"):
        reg.register("noop", Other)


def test_a_naive_datetime_is_refused_on_decode():
    reg = TupleRegistry()
    reg.register("noop", Aware)
    payload = msgspec.msgpack.encode([{"_t": "noop.Aware", "when": "2026-01-01T00:00:00"}])
    with pytest.raises(FrameError):
        reg.decode(payload)
