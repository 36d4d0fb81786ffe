"""``peek plugin keygen`` and ``peek plugin sign`` in-process."""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from peek.cli.main import main
from peek.rollout.signing import load_public_key, verify_signature


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PEEK_CONFIG", raising=False)
    monkeypatch.setenv("PEEK__DATA_DIR", str(tmp_path / "data"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_keygen_then_sign_makes_a_signature_the_printed_key_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "release.pem"
    wheel = tmp_path / "peek_plugin_weather-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 wheel")

    assert main(["plugin", "keygen", str(key)]) == 0
    public = capsys.readouterr().out.strip()
    assert main(["plugin", "sign", str(wheel), "--key", str(key)]) == 0

    signature = wheel.with_name(wheel.name + ".sig")
    assert f"wrote {signature}" in capsys.readouterr().out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    verify_signature(digest, signature.read_bytes(), [load_public_key(public)])


def test_sign_with_a_missing_key_fails_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tmp_path / "x.whl"
    wheel.write_bytes(b"x")

    assert main(["plugin", "sign", str(wheel), "--key", str(tmp_path / "nope.pem")]) == 1
    assert "cannot read private key" in capsys.readouterr().err
    assert not wheel.with_name("x.whl.sig").exists()
