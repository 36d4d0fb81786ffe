"""Ed25519 signatures over plugin artifacts, and the policy that checks them on upload.

A signature signs the uploaded file's SHA-256, prefixed with the format tag
(``b"peek-signature/1\\0" + digest``, so that it cannot be replayed as a
signature of anything else). It travels as a small JSON file beside the
upload, ``<file>.sig``::

    {"format": "peek-signature/1", "algorithm": "ed25519",
     "sha256": "<hex of the signed file>", "key": "SHA256:<fingerprint>",
     "signature": "<base64, 64 bytes>"}

Keys: private keys are PEM (PKCS#8) files written 0600 by
:func:`generate_key`, or OpenSSH ed25519 private keys (``ssh-keygen -t
ed25519``). Trusted public keys are OpenSSH lines (``ssh-ed25519 AAAA...
comment``) or PEM, and a key's fingerprint is the one ``ssh-keygen -l``
prints (``SHA256:...``).

:class:`SignaturePolicy` is what the upload path applies: with
``require_signature`` an unsigned or badly signed upload is refused; without
it, an unsigned upload passes, and a signature that is present is still
checked whenever trusted keys are configured (a bad signature is never
ignored). Errors on uploads are
:class:`~peek.rollout.errors.SignatureRejected`; errors making or reading
keys are :class:`~peek.rollout.errors.SignatureError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from peek.config import RolloutConfig
from peek.rollout.errors import SignatureError, SignatureRejected
from peek.rollout.hashing import SHA256_RE, sha256_file

__all__ = [
    "SIGNATURE_FORMAT",
    "SIGNATURE_SUFFIX",
    "SignaturePolicy",
    "TrustedKey",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "sign",
    "sign_digest",
    "verify_signature",
]

SIGNATURE_FORMAT = "peek-signature/1"
SIGNATURE_SUFFIX = ".sig"
# A signature file is a few hundred bytes; anything far larger is not one.
MAX_SIGNATURE_BYTES = 4096


@dataclass(frozen=True)
class TrustedKey:
    """A public key and its fingerprint (``SHA256:...`` as ``ssh-keygen -l`` shows it)."""

    key: Ed25519PublicKey
    fingerprint: str
    comment: str = ""

    def openssh(self) -> str:
        """The key as one OpenSSH line, e.g. for ``[rollout] trusted_keys``."""
        line = self.key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode("ascii")
        return f"{line} {self.comment}".strip()


def _trusted(key: Ed25519PublicKey, comment: str = "") -> TrustedKey:
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return TrustedKey(key, f"SHA256:{digest}", comment)


def load_public_key(text: str) -> TrustedKey:
    """Parse an ed25519 public key: an OpenSSH line or PEM. Raises :class:`SignatureError`."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
            comment = ""
        else:
            fields = text.split(None, 2)
            if len(fields) < 2 or fields[0] != "ssh-ed25519":
                raise SignatureError(
                    f"not an ed25519 public key (want 'ssh-ed25519 AAAA...' or PEM): {text[:40]!r}"
                )
            key = serialization.load_ssh_public_key(" ".join(fields[:2]).encode("ascii"))
            comment = fields[2] if len(fields) > 2 else ""
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError) as exc:
        raise SignatureError(f"cannot read public key {text[:40]!r}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"not an ed25519 public key: {text[:40]!r}")
    return _trusted(key, comment)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted ed25519 private key (PEM or OpenSSH) from ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"cannot read private key {path}: {exc.strerror}") from None
    key: object
    try:
        if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"cannot read private key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path} is not an ed25519 private key")
    return key


def generate_key(
    private_key_file: Path, public_key_file: Path | None = None, comment: str = "peek"
) -> TrustedKey:
    """Make a new key pair: the private key (PEM, mode 0600) and its OpenSSH public line.

    ``public_key_file`` defaults to ``<private_key_file>.pub``. Existing
    files are never overwritten (:class:`SignatureError`). Blocking.
    """
    public_key_file = public_key_file or private_key_file.with_name(private_key_file.name + ".pub")
    for path in (private_key_file, public_key_file):
        if path.exists():
            raise SignatureError(f"{path} already exists; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    trusted = _trusted(key.public_key(), comment)
    try:
        fd = os.open(private_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        public_key_file.write_text(trusted.openssh() + "\n", encoding="ascii")
    except OSError as exc:
        raise SignatureError(f"cannot write key file {exc.filename}: {exc.strerror}") from None
    return trusted


def _message(sha256: str) -> bytes:
    return SIGNATURE_FORMAT.encode("ascii") + b"\0" + bytes.fromhex(sha256)


def sign_digest(key: Ed25519PrivateKey, sha256: str) -> bytes:
    """The signature document (JSON bytes) for an artifact whose SHA-256 is ``sha256``."""
    if not SHA256_RE.match(sha256):
        raise SignatureError(f"not a lowercase hex sha256: {sha256!r}")
    document = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "ed25519",
        "sha256": sha256,
        "key": _trusted(key.public_key()).fingerprint,
        "signature": base64.b64encode(key.sign(_message(sha256))).decode("ascii"),
    }
    return (json.dumps(document, sort_keys=True, indent=1) + "\n").encode("ascii")


def sign(private_key_file: Path, artifact: Path, signature_file: Path | None = None) -> Path:
    """Sign ``artifact`` with the key in ``private_key_file``; return the signature file.

    The signature goes to ``signature_file``, by default ``<artifact>.sig``
    (replaced if it exists). Blocking.
    """
    key = load_private_key(private_key_file)
    try:
        digest = sha256_file(artifact)
    except OSError as exc:
        raise SignatureError(f"cannot read {artifact}: {exc.strerror}") from None
    out = signature_file or artifact.with_name(artifact.name + SIGNATURE_SUFFIX)
    try:
        out.write_bytes(sign_digest(key, digest))
    except OSError as exc:
        raise SignatureError(f"cannot write {out}: {exc.strerror}") from None
    return out


def verify_signature(sha256: str, document: bytes, trusted: Iterable[TrustedKey]) -> TrustedKey:
    """Check the signature ``document`` for an artifact with digest ``sha256``.

    Returns the trusted key that signed it; raises :class:`SignatureRejected`
    saying whether the document is malformed, signs another file, was made
    by an untrusted key, or does not verify.
    """
    if len(document) > MAX_SIGNATURE_BYTES:
        raise SignatureRejected("the signature file is too large to be a Peek signature")
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise SignatureRejected("the signature file is not a Peek signature (not JSON)") from None
    if not isinstance(parsed, dict) or parsed.get("format") != SIGNATURE_FORMAT:
        raise SignatureRejected(f"the signature file is not in the {SIGNATURE_FORMAT} format")
    if parsed.get("algorithm") != "ed25519":
        raise SignatureRejected(
            f"the signature uses {parsed.get('algorithm')!r}; only ed25519 is accepted"
        )
    signed = parsed.get("sha256")
    if signed != sha256:
        raise SignatureRejected(
            f"the signature is for another file (sha256 {signed}), not this upload "
            f"(sha256 {sha256})"
        )
    fingerprint = parsed.get("key")
    key = next((k for k in trusted if k.fingerprint == fingerprint), None)
    if key is None:
        raise SignatureRejected(
            f"the upload is signed by key {fingerprint}, which is not a trusted key "
            "([rollout] trusted_keys)"
        )
    try:
        raw = base64.b64decode(str(parsed.get("signature", "")), validate=True)
        key.key.verify(raw, _message(sha256))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureRejected(
            f"the signature does not verify with key {fingerprint}: the file or the "
            "signature was altered"
        ) from None
    return key


@dataclass(frozen=True)
class SignaturePolicy:
    """Whether uploads must be signed, and by which keys (``[rollout]`` in the configuration)."""

    require_signature: bool = False
    trusted_keys: tuple[TrustedKey, ...] = ()

    def __post_init__(self) -> None:
        if self.require_signature and not self.trusted_keys:
            raise SignatureError(
                "require_signature is set but no trusted_keys are configured: "
                "no upload could ever be accepted"
            )

    @classmethod
    def from_texts(cls, require_signature: bool, keys: Iterable[str]) -> SignaturePolicy:
        """Build the policy from configuration strings (OpenSSH lines or PEM)."""
        return cls(require_signature, tuple(load_public_key(text) for text in keys))

    @classmethod
    def from_config(cls, config: RolloutConfig) -> SignaturePolicy:
        """The policy of ``[rollout]``: ``require_signature`` and ``trusted_keys``."""
        return cls.from_texts(config.require_signature, config.trusted_keys)

    def check(self, sha256: str, signature: bytes | None) -> TrustedKey | None:
        """The key that signed the upload, None if unsigned and allowed; else refuse it."""
        if signature is None:
            if self.require_signature:
                raise SignatureRejected(
                    "the upload is not signed, and this platform requires signed plugins "
                    "([rollout] require_signature); sign it with 'peek plugin sign' and "
                    "upload the .sig file with it"
                )
            return None
        if not self.trusted_keys:
            # Nothing to check against: the signature can neither pass nor fail.
            return None
        return verify_signature(sha256, signature, self.trusted_keys)
