"""Service tokens: how a client, agent or worker proves itself to the server.

A token is ``<id>.<secret>``; the server keeps only the id, the service kind,
a name and the SHA-256 of the secret (the secret is 256 random bits, so a fast
hash is enough and a slow one would only slow every connect). The file lives
in the server's data directory with mode 0600 and is re-read on each check,
so ``peek token create`` and ``revoke`` take effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from peek.errors import PeekError

__all__ = ["TokenError", "TokenInfo", "TokenStore", "read_token_file", "write_secret_file"]

TOKEN_KINDS = ("client", "agent", "worker")


class TokenError(PeekError):
    """A token could not be created, read or found."""


@dataclass(frozen=True)
class TokenInfo:
    id: str
    kind: str
    name: str
    created: float
    digest: str


class TokenStore:
    """The server's table of service tokens, kept hashed in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, kind: str, name: str) -> tuple[TokenInfo, str]:
        """Make a token for a service of ``kind`` called ``name``; returns it once, in clear."""
        if kind not in TOKEN_KINDS:
            raise TokenError(f"service kind must be one of {', '.join(TOKEN_KINDS)}, not {kind!r}")
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
            raise TokenError("a service name is 1-64 letters, digits, '-' or '_'")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(token_id, kind, name, time.time(), _digest(secret))
        tokens = self.entries()
        tokens.append(info)
        self._write(tokens)
        return info, f"{token_id}.{secret}"

    def entries(self) -> list[TokenInfo]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise TokenError(f"cannot read token file {self.path}: {exc}") from None
        return [TokenInfo(**entry) for entry in raw.get("tokens", [])]

    def revoke(self, token_id: str) -> TokenInfo:
        tokens = self.entries()
        kept = [t for t in tokens if t.id != token_id]
        if len(kept) == len(tokens):
            raise TokenError(f"no token with id {token_id!r}")
        self._write(kept)
        return next(t for t in tokens if t.id == token_id)

    def verify(self, token: str) -> TokenInfo | None:
        """The token's entry if ``token`` is valid, else None. Blocking (reads the file)."""
        token_id, sep, secret = token.strip().partition(".")
        if not sep or not secret:
            return None
        for info in self.entries():
            if info.id == token_id and hmac.compare_digest(info.digest, _digest(secret)):
                return info
        return None

    def _write(self, tokens: list[TokenInfo]) -> None:
        payload = json.dumps({"tokens": [asdict(t) for t in tokens]}, indent=1)
        write_secret_file(self.path, payload)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_token_file(path: Path) -> str:
    """The token in ``path`` (whitespace trimmed); TokenError naming the file if absent."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise TokenError(
            f"token file {path} does not exist; create a token on the server with "
            f"'peek token create --service KIND' and save it there"
        ) from None
    except OSError as exc:
        raise TokenError(f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise TokenError(f"token file {path} is empty")
    return token
