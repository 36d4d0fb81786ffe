"""``peek.rollout.artifacts``: the content-addressed wheel store."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest

from peek.rollout.artifacts import STALE_TMP_AGE, ArtifactStore
from peek.rollout.errors import ArtifactCorrupt, ArtifactError, ArtifactMissing


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore.in_data_dir(tmp_path / "data")


def a_file(tmp_path: Path, data: bytes, name: str = "x.whl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_an_artifact_is_stored_under_its_sha256_in_a_two_letter_fan_out(
    store: ArtifactStore, tmp_path: Path
) -> None:
    digest = store.add(a_file(tmp_path, b"wheel one"))

    assert digest == sha(b"wheel one")
    path = tmp_path / "data" / "artifacts" / "sha256" / digest[:2] / f"{digest}.whl"
    assert store.path_for(digest) == path
    assert path.read_bytes() == b"wheel one"


def test_adding_the_same_bytes_twice_keeps_one_untouched_copy(
    store: ArtifactStore, tmp_path: Path
) -> None:
    digest = store.add(a_file(tmp_path, b"same", "a.whl"))
    first = store.path_for(digest).stat()

    assert store.add(a_file(tmp_path, b"same", "b.whl")) == digest

    again = store.path_for(digest).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert [a.sha256 for a in store.entries()] == [digest]


def test_stored_artifacts_are_read_only(store: ArtifactStore, tmp_path: Path) -> None:
    digest = store.add(a_file(tmp_path, b"data"))

    assert store.path_for(digest).stat().st_mode & 0o222 == 0


def test_an_expected_hash_that_does_not_match_stores_nothing(
    store: ArtifactStore, tmp_path: Path
) -> None:
    with pytest.raises(ArtifactCorrupt) as caught:
        store.add(a_file(tmp_path, b"actual"), expected_sha256=sha(b"expected"))

    assert caught.value.actual == sha(b"actual")
    assert store.entries() == []
    assert list((tmp_path / "data" / "artifacts" / "tmp").iterdir()) == []


def test_a_stream_is_stored_like_a_file(store: ArtifactStore) -> None:
    digest = store.add_stream(io.BytesIO(b"downloaded"), sha(b"downloaded"))

    assert store.get(digest).read_bytes() == b"downloaded"


def test_get_verifies_and_moves_a_corrupt_artifact_aside(
    store: ArtifactStore, tmp_path: Path
) -> None:
    digest = store.add(a_file(tmp_path, b"good bytes"))
    path = store.path_for(digest)
    path.chmod(0o644)
    path.write_bytes(b"bit rot")

    with pytest.raises(ArtifactCorrupt, match=f"sha256:{digest} .* is corrupt"):
        store.get(digest)

    assert not store.has(digest)
    [aside] = (tmp_path / "data" / "artifacts" / "corrupt").iterdir()
    assert aside.read_bytes() == b"bit rot"


def test_adding_again_repairs_a_corrupt_artifact(store: ArtifactStore, tmp_path: Path) -> None:
    digest = store.add(a_file(tmp_path, b"good bytes"))
    path = store.path_for(digest)
    path.chmod(0o644)
    path.write_bytes(b"bit rot")

    assert store.add(a_file(tmp_path, b"good bytes", "again.whl")) == digest

    assert store.get(digest).read_bytes() == b"good bytes"


def test_a_missing_artifact_is_reported_by_name(store: ArtifactStore) -> None:
    digest = sha(b"never added")

    with pytest.raises(ArtifactMissing, match=f"sha256:{digest} is not in the store"):
        store.get(digest)


@pytest.mark.parametrize("name", ["../../etc/passwd", "ABC", "a" * 63, "g" * 64])
def test_names_that_are_not_sha256_are_refused(store: ArtifactStore, name: str) -> None:
    with pytest.raises(ArtifactError, match="not an artifact name"):
        store.path_for(name)


def test_entries_list_every_artifact_with_its_size(store: ArtifactStore, tmp_path: Path) -> None:
    one = store.add(a_file(tmp_path, b"1", "one.whl"))
    two = store.add(a_file(tmp_path, b"22", "two.whl"))

    assert {(a.sha256, a.size) for a in store.entries()} == {(one, 1), (two, 2)}
    assert [a.sha256 for a in store.entries()] == sorted([one, two])


def test_garbage_collection_removes_only_unreferenced_artifacts(
    store: ArtifactStore, tmp_path: Path
) -> None:
    kept = store.add(a_file(tmp_path, b"kept", "k.whl"))
    dropped = store.add(a_file(tmp_path, b"dropped", "d.whl"))

    assert store.collect_garbage({kept}) == [dropped]

    assert [a.sha256 for a in store.entries()] == [kept]
    assert not store.path_for(dropped).exists()


def test_garbage_collection_removes_old_temporary_files_but_not_fresh_ones(
    store: ArtifactStore, tmp_path: Path
) -> None:
    store.add(a_file(tmp_path, b"x"))
    tmp = tmp_path / "data" / "artifacts" / "tmp"
    old, fresh = tmp / "add-old.whl", tmp / "add-fresh.whl"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    long_ago = time.time() - STALE_TMP_AGE - 60
    os.utime(old, (long_ago, long_ago))

    store.collect_garbage(set())

    assert sorted(p.name for p in tmp.iterdir()) == ["add-fresh.whl"]
