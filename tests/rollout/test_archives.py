"""``peek.rollout.archives``: entry names and the bounded gzip reader (the upload table covers
whole archives)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from peek.rollout.archives import _BoundedReader, check_entry_name
from peek.rollout.errors import ArchiveBomb, UnsafeEntry


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("pkg/mod.py", ("pkg", "mod.py")),
        ("./pkg//mod.py", ("pkg", "mod.py")),
        ("pkg/", ("pkg",)),
        ("./", ()),
        ("pkg/..data/x", ("pkg", "..data", "x")),
    ],
)
def test_safe_names_are_normalised_to_their_parts(name: str, parts: tuple[str, ...]) -> None:
    assert check_entry_name(name) == parts


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty path"),
        ("pkg/mod.py\x00.txt", "NUL character"),
        ("pkg\\mod.py", "backslash"),
        ("/etc/passwd", "absolute path"),
        ("c:evil.py", "drive letter"),
        ("pkg/../../evil.py", "path traversal"),
        ("..", "path traversal"),
    ],
)
def test_unsafe_names_are_refused_saying_why(name: str, problem: str) -> None:
    with pytest.raises(UnsafeEntry, match=problem) as caught:
        check_entry_name(name)

    assert caught.value.entry == name


def test_the_bounded_reader_refuses_to_decompress_past_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "zeros.gz"
    path.write_bytes(gzip.compress(b"\0" * 100_000))
    with gzip.GzipFile(path) as raw:
        reader = io.BufferedReader(_BoundedReader(raw, 10_000))

        with pytest.raises(ArchiveBomb, match="more than the limit of 10000 bytes"):
            reader.read()


def test_the_bounded_reader_refuses_to_seek_past_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "zeros.gz"
    path.write_bytes(gzip.compress(b"\0" * 100_000))
    with gzip.GzipFile(path) as raw:
        reader = _BoundedReader(raw, 10_000)

        assert reader.seek(5_000) == 5_000
        with pytest.raises(ArchiveBomb):
            reader.seek(50_000)


def test_the_bounded_reader_reads_a_stream_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "data.gz"
    path.write_bytes(gzip.compress(b"abc" * 1000))
    with gzip.GzipFile(path) as raw:
        assert io.BufferedReader(_BoundedReader(raw, 3000)).read() == b"abc" * 1000
