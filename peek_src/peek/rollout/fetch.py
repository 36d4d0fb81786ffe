"""Getting a generation's artifacts onto a service host, and its manifest.

A service fetches what it lacks from the server's data-exchange site, the
only address it may reach::

    GET /rollout/generations/<n>          the manifest (canonical JSON)
    GET /rollout/artifacts/<sha256>       the wheel (Range requests answered)

both with ``Authorization: Bearer <service token>``.
:class:`HttpArtifactFetcher` is the :data:`~peek.rollout.backend.ArtifactFetcher`
a backend calls: it serves from the host's own
:class:`~peek.rollout.artifacts.ArtifactStore` when the artifact is there
(``peek run`` shares the server's store), else downloads into
``<store>/tmp/download-<sha256>.part``, resuming a partial file with a
``Range`` request (after a dropped connection, or a restart), and adds it
to the store, which checks the SHA-256. Blocking: backends run in an executor.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from peek.rollout.artifacts import ArtifactStore
from peek.rollout.errors import ArtifactCorrupt, ArtifactError, GenerationError
from peek.rollout.generations import Generation, GenerationPlugin
from peek.rollout.hashing import CHUNK

__all__ = [
    "ARTIFACT_PATH",
    "GENERATION_PATH",
    "HttpArtifactFetcher",
    "fetch_generation",
    "local_fetcher",
]

log = logging.getLogger(__name__)

ARTIFACT_PATH = "/rollout/artifacts"
GENERATION_PATH = "/rollout/generations"
DEFAULT_TIMEOUT = 30.0
# A dropped download is resumed this many times before the prepare fails.
ATTEMPTS = 4
RETRY_DELAY = 0.5

Progress = Callable[[GenerationPlugin, int, int | None], None]


def local_fetcher(store: ArtifactStore) -> Callable[[GenerationPlugin], Path]:
    """The fetcher of the server: its own store (verified on every read)."""

    def fetch(plugin: GenerationPlugin) -> Path:
        return store.get(plugin.sha256)

    return fetch


class HttpArtifactFetcher:
    """Artifacts from the server's exchange site into this host's store (see the module)."""

    def __init__(
        self,
        server_url: str,
        token: str,
        store: ArtifactStore,
        *,
        progress: Progress | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._token = token
        self.store = store
        self._progress = progress
        self.timeout = timeout
        self.downloaded: list[str] = []

    def __call__(self, plugin: GenerationPlugin) -> Path:
        sha256 = plugin.sha256
        try:
            return self.store.get(sha256)
        except ArtifactError:
            pass
        part = self.store.root / "tmp" / f"download-{sha256}.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        problem = ""
        for attempt in range(ATTEMPTS):
            try:
                self._download(plugin, part)
                break
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                if isinstance(exc, urllib.error.HTTPError) and exc.code in (401, 403, 404):
                    raise ArtifactError(
                        sha256,
                        f"the server refused artifact sha256:{sha256} "
                        f"({plugin.name}): HTTP {exc.code}",
                    ) from None
                problem = str(getattr(exc, "reason", exc))
                log.warning(
                    "downloading %s (attempt %d) failed: %s; resuming",
                    plugin.name,
                    attempt + 1,
                    problem,
                )
                time.sleep(RETRY_DELAY)
        else:
            raise ArtifactError(
                sha256, f"cannot download {plugin.name} (sha256:{sha256}): {problem}"
            )
        try:
            self.store.add(part, sha256)
        except ArtifactCorrupt:
            # Start over next time rather than resume bytes that are wrong.
            part.unlink(missing_ok=True)
            raise
        part.unlink(missing_ok=True)
        self.downloaded.append(plugin.name)
        return self.store.get(sha256)

    def _download(self, plugin: GenerationPlugin, part: Path) -> None:
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Authorization": f"Bearer {self._token}"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        url = f"{self.server_url}{ARTIFACT_PATH}/{plugin.sha256}"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416:
                # What we hold is already as long as the file (or longer): start over.
                part.unlink(missing_ok=True)
            raise
        with response:
            if response.status != 206:
                offset = 0
            total = response.headers.get("Content-Length")
            size = offset + int(total) if total is not None else None
            with part.open("ab" if offset else "wb") as out:
                done = offset
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if self._progress is not None:
                        self._progress(plugin, done, size)


def fetch_generation(
    server_url: str, token: str, number: int, digest: str, timeout: float
) -> Generation:
    """Generation ``number``'s manifest from the server, checked against ``digest``. Blocking."""
    url = f"{server_url.rstrip('/')}{GENERATION_PATH}/{number}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read()
    generation = Generation.from_json(data)
    if generation.digest() != digest or generation.number != number:
        raise GenerationError(
            f"the server's manifest of generation {number} does not match its digest {digest}"
        )
    return generation
