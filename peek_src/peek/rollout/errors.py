"""Errors of plugin rollout: one base class, data kept on the error, ``str()`` for sysadmins.

Upload refusals (:class:`UploadRejected` and its subclasses) carry a stable
``code`` for the HTTP API and the CLI's ``--json`` output, and the HTTP status
the admin site answers with (413 for a too-large upload, 422 otherwise). The
message is written to be shown as is on the admin page, in the API answer and
by the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence

from peek.errors import PeekError

__all__ = [
    "ArchiveBomb",
    "ArtifactCorrupt",
    "ArtifactError",
    "ArtifactMissing",
    "BackendError",
    "BadArchive",
    "BadPluginMetadata",
    "BadPluginName",
    "BadProject",
    "BadWheel",
    "BuildBackendUnavailable",
    "BuildFailed",
    "DuplicateEntry",
    "GenerationConflict",
    "GenerationError",
    "GenerationNotPrepared",
    "ImportCheckFailed",
    "InvalidTransition",
    "PeekVersionExcluded",
    "RolloutError",
    "SignatureError",
    "SignatureRejected",
    "UnsafeEntry",
    "UnsatisfiedRequirements",
    "UnsupportedUpload",
    "UploadRejected",
    "UploadTooLarge",
]


class RolloutError(PeekError):
    """Base of every error of :mod:`peek.rollout`."""


# -- uploads ---------------------------------------------------------------


class UploadRejected(RolloutError):
    """An upload was refused before anything changed; ``reason`` says why.

    ``code`` is stable (API and CLI JSON); ``http_status`` is what the admin
    site answers with.
    """

    code = "rejected"
    http_status = 422

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"upload refused: {reason}")


class UploadTooLarge(UploadRejected):
    """The upload is bigger than ``limit`` bytes (``[rollout] max_upload_bytes``)."""

    code = "too_large"
    http_status = 413

    def __init__(self, limit: int, size: int | None = None) -> None:
        self.limit = limit
        self.size = size
        seen = f" ({size} bytes)" if size is not None else ""
        super().__init__(
            f"the file is larger than the upload limit of {limit} bytes{seen} "
            "(set [rollout] max_upload_bytes to change it)"
        )


class UnsupportedUpload(UploadRejected):
    """Not a wheel, a ``.zip`` or a ``.tar.gz``, or not what its name says."""

    code = "unsupported_type"


class BadArchive(UploadRejected):
    """The archive cannot be read (corrupt, encrypted, truncated)."""

    code = "bad_archive"


class UnsafeEntry(UploadRejected):
    """An archive entry would land outside the extraction directory or is not a plain file.

    ``entry`` is the name as stored in the archive.
    """

    code = "unsafe_entry"

    def __init__(self, entry: str, problem: str) -> None:
        self.entry = entry
        self.problem = problem
        super().__init__(f"archive entry {entry!r}: {problem}")


class DuplicateEntry(UploadRejected):
    code = "duplicate_entry"

    def __init__(self, entry: str) -> None:
        self.entry = entry
        super().__init__(f"archive entry {entry!r} appears more than once")


class ArchiveBomb(UploadRejected):
    """The archive unpacks to far more than it weighs, or to more than the limit."""

    code = "archive_bomb"


class BadWheel(UploadRejected):
    """The wheel's name, tags, layout or RECORD is wrong."""

    code = "bad_wheel"


class BadPluginMetadata(UploadRejected):
    """``plugin.toml``, ``METADATA`` or the ``peek.plugins`` entry point is missing or wrong."""

    code = "bad_metadata"


class BadPluginName(UploadRejected):
    code = "bad_name"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"{name!r} is not a Peek plugin name: plugins are distributions named "
            "peek-plugin-<name> with an import package peek_plugin_<name>"
        )


class PeekVersionExcluded(UploadRejected):
    code = "peek_version"

    def __init__(self, plugin: str, supported: str, running: str) -> None:
        self.plugin = plugin
        self.supported = supported
        self.running = running
        super().__init__(
            f"plugin {plugin} supports Peek {supported or '(any)'}, but this is Peek {running}"
        )


class UnsatisfiedRequirements(UploadRejected):
    """The plugin set with this upload cannot run; ``problems`` has one line per failure."""

    code = "unsatisfied"

    def __init__(self, plugin: str, problems: Sequence[str]) -> None:
        self.plugin = plugin
        self.problems = tuple(problems)
        super().__init__(
            f"the plugin set with {plugin} cannot be satisfied: " + "; ".join(self.problems)
        )


class BadProject(UploadRejected):
    """A ``.zip``/``.tar.gz`` upload is not a buildable Python project."""

    code = "bad_project"


class BuildBackendUnavailable(UploadRejected):
    """The project's build backend is not installed here; uploads are built offline."""

    code = "build_backend_missing"

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"the project's build system needs {', '.join(self.missing)}, which this platform "
            "does not have; uploaded projects are built offline with the platform's own tools "
            "(setuptools is available), so build a wheel yourself and upload the .whl"
        )


class BuildFailed(UploadRejected):
    """Building the wheel failed or timed out; ``output`` is the end of the build's output."""

    code = "build_failed"

    def __init__(self, problem: str, output: str = "") -> None:
        self.problem = problem
        self.output = output
        tail = f"\n{output}" if output else ""
        super().__init__(f"building a wheel from the project failed: {problem}{tail}")


class ImportCheckFailed(UploadRejected):
    """A plugin module does not import in an isolated interpreter.

    Raised for uploads and by host backends for whole generations.
    """

    code = "import_failed"

    def __init__(self, plugin: str, module: str, problem: str) -> None:
        self.plugin = plugin
        self.module = module
        self.problem = problem
        where = f" importing {module}" if module else ""
        super().__init__(f"plugin {plugin} fails{where}: {problem}")


class SignatureRejected(UploadRejected):
    """Missing, malformed, untrusted or wrong signature under the signature policy."""

    code = "signature"


class SignatureError(RolloutError):
    """Keys or signature files cannot be made or read (not about an upload)."""


# -- artifacts ---------------------------------------------------------------


class ArtifactError(RolloutError):
    """Base of artifact store errors; ``sha256`` names the artifact."""

    def __init__(self, sha256: str, message: str) -> None:
        self.sha256 = sha256
        super().__init__(message)


class ArtifactMissing(ArtifactError):
    def __init__(self, sha256: str) -> None:
        super().__init__(sha256, f"artifact sha256:{sha256} is not in the store")


class ArtifactCorrupt(ArtifactError):
    """The bytes do not hash to the name they are stored or fetched under."""

    def __init__(self, sha256: str, actual: str, where: str) -> None:
        self.actual = actual
        self.where = where
        super().__init__(
            sha256, f"artifact sha256:{sha256} at {where} is corrupt (its sha256 is {actual})"
        )


# -- generations -------------------------------------------------------------


class GenerationError(RolloutError):
    """A generation manifest is invalid (bad field, bad JSON)."""


class InvalidTransition(GenerationError):
    def __init__(self, current: str, wanted: str) -> None:
        self.current = current
        self.wanted = wanted
        super().__init__(f"a generation cannot go from {current} to {wanted}")


# -- host backends -------------------------------------------------------------


class BackendError(RolloutError):
    """A host backend could not prepare, switch or roll back; ``generation`` is the number."""

    def __init__(self, generation: int | None, message: str) -> None:
        self.generation = generation
        super().__init__(message)


class GenerationNotPrepared(BackendError):
    def __init__(self, generation: int) -> None:
        super().__init__(generation, f"generation {generation} is not prepared on this host")


class GenerationConflict(BackendError):
    """A different manifest is already prepared under the same number: never overwritten."""

    def __init__(self, generation: int) -> None:
        super().__init__(
            generation,
            f"generation {generation} is already prepared on this host with a different "
            "plugin set; generation numbers are never reused",
        )
