"""``peek.rollout.signing``: keys, signatures, and the policy applied to uploads."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peek.config import RolloutConfig
from peek.rollout.errors import SignatureError, SignatureRejected
from peek.rollout.signing import (
    SignaturePolicy,
    TrustedKey,
    generate_key,
    load_private_key,
    load_public_key,
    sign,
    verify_signature,
)
from peek.rollout.validate import validate_upload

from .conftest import Built
from .sites import Site, file_digest, make_site


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, TrustedKey]:
    private = tmp_path / "keys" / "release.pem"
    private.parent.mkdir()
    return private, generate_key(private, comment="release@example")


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "peek_plugin_weather-0.1.0-py3-none-any.whl"
    path.write_bytes(b"PK\x03\x04 pretend wheel bytes")
    return path


# -- keys ---------------------------------------------------------------------------


def test_generated_private_key_is_only_readable_by_its_owner(key: tuple[Path, TrustedKey]) -> None:
    private, _ = key

    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert isinstance(load_private_key(private), Ed25519PrivateKey)


def test_generated_public_key_is_an_openssh_line_that_loads_back(
    key: tuple[Path, TrustedKey],
) -> None:
    private, trusted = key
    line = private.with_name("release.pem.pub").read_text().strip()

    assert line.startswith("ssh-ed25519 ") and line.endswith(" release@example")
    loaded = load_public_key(line)
    assert (loaded.fingerprint, loaded.comment) == (trusted.fingerprint, "release@example")


def test_fingerprint_is_the_one_ssh_keygen_shows(key: tuple[Path, TrustedKey]) -> None:
    import subprocess

    private, trusted = key
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(private.with_name("release.pem.pub"))],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        pytest.skip(f"ssh-keygen unavailable: {shown.stderr.strip()}")
    assert trusted.fingerprint in shown.stdout


def test_existing_key_files_are_never_overwritten(key: tuple[Path, TrustedKey]) -> None:
    private, _ = key
    before = private.read_bytes()

    with pytest.raises(SignatureError, match="already exists"):
        generate_key(private)

    assert private.read_bytes() == before


def test_a_pem_public_key_is_accepted(key: tuple[Path, TrustedKey]) -> None:
    private, trusted = key
    pem = (
        load_private_key(private)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    assert load_public_key(pem.decode()).fingerprint == trusted.fingerprint


def test_an_openssh_private_key_signs(tmp_path: Path, artifact: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "id_ed25519"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )

    signature = sign(path, artifact)

    verify_signature(
        file_digest(artifact), signature.read_bytes(), [load_public_key(public.decode())]
    )


@pytest.mark.parametrize(
    "text",
    [
        "ssh-rsa AAAAB3NzaC1yc2E= someone",
        "ssh-ed25519 not-base64!",
        "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----",
        "hello",
    ],
)
def test_unreadable_or_non_ed25519_public_keys_are_refused(text: str) -> None:
    with pytest.raises(SignatureError):
        load_public_key(text)


# -- signatures -------------------------------------------------------------------------


def test_sign_writes_a_sig_file_beside_the_artifact_that_verifies(
    key: tuple[Path, TrustedKey], artifact: Path
) -> None:
    private, trusted = key

    signature = sign(private, artifact)

    assert signature == artifact.with_name(artifact.name + ".sig")
    document = json.loads(signature.read_bytes())
    assert document["sha256"] == file_digest(artifact)
    assert document["key"] == trusted.fingerprint
    assert verify_signature(file_digest(artifact), signature.read_bytes(), [trusted]) == trusted


def test_a_signature_of_another_file_is_refused(
    key: tuple[Path, TrustedKey], artifact: Path, tmp_path: Path
) -> None:
    private, trusted = key
    other = tmp_path / "other.whl"
    other.write_bytes(b"something else")

    signature = sign(private, other).read_bytes()

    with pytest.raises(SignatureRejected, match="the signature is for another file"):
        verify_signature(file_digest(artifact), signature, [trusted])


def test_a_signature_claiming_another_digest_does_not_verify(
    key: tuple[Path, TrustedKey], artifact: Path
) -> None:
    private, trusted = key
    document = json.loads(sign(private, artifact).read_bytes())
    # Someone edits the claimed digest to match a file of theirs.
    forged_digest = "0" * 64
    document["sha256"] = forged_digest

    with pytest.raises(SignatureRejected, match="does not verify"):
        verify_signature(forged_digest, json.dumps(document).encode(), [trusted])


def test_a_tampered_signature_does_not_verify(key: tuple[Path, TrustedKey], artifact: Path) -> None:
    private, trusted = key
    document = json.loads(sign(private, artifact).read_bytes())
    raw = bytearray(base64.b64decode(document["signature"]))
    raw[0] ^= 0xFF
    document["signature"] = base64.b64encode(bytes(raw)).decode()

    with pytest.raises(SignatureRejected, match="does not verify with key SHA256:"):
        verify_signature(file_digest(artifact), json.dumps(document).encode(), [trusted])


def test_a_signature_by_an_untrusted_key_is_refused(
    key: tuple[Path, TrustedKey], artifact: Path, tmp_path: Path
) -> None:
    _, trusted = key
    stranger = generate_key(tmp_path / "stranger.pem")
    signature = sign(tmp_path / "stranger.pem", artifact).read_bytes()

    with pytest.raises(
        SignatureRejected, match=re.escape(f"signed by key {stranger.fingerprint}, which is not")
    ):
        verify_signature(file_digest(artifact), signature, [trusted])


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"\x00\x01binary", "not JSON"),
        (b'{"format": "gpg"}', "not in the peek-signature/1 format"),
        (b'{"format": "peek-signature/1", "algorithm": "rsa"}', "only ed25519"),
        (b"{}" + b" " * 5000, "too large"),
    ],
)
def test_malformed_signature_files_are_refused(
    key: tuple[Path, TrustedKey], document: bytes, problem: str
) -> None:
    with pytest.raises(SignatureRejected, match=problem):
        verify_signature("a" * 64, document, [key[1]])


# -- the policy -----------------------------------------------------------------------------


def test_require_signature_without_trusted_keys_is_a_configuration_error() -> None:
    with pytest.raises(SignatureError, match="no trusted_keys"):
        SignaturePolicy(require_signature=True)


def test_the_policy_is_read_from_the_rollout_configuration(key: tuple[Path, TrustedKey]) -> None:
    config = RolloutConfig(require_signature=True, trusted_keys=(key[1].openssh(),))

    policy = SignaturePolicy.from_config(config)

    assert policy.require_signature
    assert [k.fingerprint for k in policy.trusted_keys] == [key[1].fingerprint]


def test_without_require_signature_an_unsigned_upload_passes(artifact: Path) -> None:
    assert SignaturePolicy().check(file_digest(artifact), None) is None


def test_without_require_signature_a_bad_signature_is_still_refused(
    key: tuple[Path, TrustedKey], artifact: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.whl"
    other.write_bytes(b"x")
    policy = SignaturePolicy(trusted_keys=(key[1],))

    with pytest.raises(SignatureRejected):
        policy.check(file_digest(artifact), sign(key[0], other).read_bytes())


# -- on upload --------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, built: Built) -> Site:
    return make_site(tmp_path, built.wheel)


def test_a_signed_upload_is_accepted_and_names_its_signer(
    site: Site, built: Built, key: tuple[Path, TrustedKey]
) -> None:
    private, trusted = key
    signature = sign(private, built.wheel, site.inputs / "upload.sig").read_bytes()
    policy = SignaturePolicy(require_signature=True, trusted_keys=(trusted,))

    with validate_upload(
        built.wheel, staging=site.staging, signature=signature, policy=policy
    ) as upload:
        assert upload.signed_by == trusted.fingerprint


def test_a_signed_project_archive_is_checked_against_the_archive_itself(
    site: Site, built: Built, key: tuple[Path, TrustedKey]
) -> None:
    private, trusted = key
    signature = sign(private, built.project_zip, site.inputs / "upload.sig").read_bytes()
    policy = SignaturePolicy(require_signature=True, trusted_keys=(trusted,))

    with validate_upload(
        built.project_zip, staging=site.staging, signature=signature, policy=policy
    ) as upload:
        assert (upload.kind, upload.signed_by) == ("zip", trusted.fingerprint)


@pytest.mark.parametrize("signature", ["missing", "other-file", "untrusted", "garbage"])
def test_under_require_signature_bad_or_missing_signatures_are_refused_changing_nothing(
    site: Site, built: Built, key: tuple[Path, TrustedKey], tmp_path: Path, signature: str
) -> None:
    private, trusted = key
    other = site.inputs / "other.whl"
    other.write_bytes(b"another file")
    stranger = tmp_path / "stranger.pem"
    generate_key(stranger)
    documents = {
        "missing": None,
        "other-file": sign(private, other, site.inputs / "a.sig").read_bytes(),
        "untrusted": sign(stranger, built.wheel, site.inputs / "b.sig").read_bytes(),
        "garbage": b"not a signature",
    }
    messages = {
        "missing": r"not signed, and this platform requires signed plugins",
        "other-file": r"the signature is for another file",
        "untrusted": r"which is not a trusted key",
        "garbage": r"not a Peek signature",
    }
    policy = SignaturePolicy(require_signature=True, trusted_keys=(trusted,))
    before = site.snapshot()

    with pytest.raises(SignatureRejected, match=messages[signature]) as caught:
        validate_upload(
            built.wheel, staging=site.staging, signature=documents[signature], policy=policy
        )

    assert caught.value.code == "signature"
    assert site.staged() == []
    assert site.snapshot() == before
