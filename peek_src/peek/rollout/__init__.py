"""Plugin rollout: uploads, the artifact store, generations and host backends.

The pieces, each usable alone (the server wires them together):

- :mod:`peek.rollout.validate`: :func:`~peek.rollout.validate.validate_upload`
  checks an uploaded wheel or project archive before anything changes;
  each refusal is a typed :class:`~peek.rollout.errors.UploadRejected`.
- :mod:`peek.rollout.signing`: ed25519 signatures over an artifact's SHA-256
  and the ``require_signature`` policy.
- :mod:`peek.rollout.artifacts`: the content-addressed
  :class:`~peek.rollout.artifacts.ArtifactStore`.
- :mod:`peek.rollout.generations`: the immutable
  :class:`~peek.rollout.generations.Generation` manifest and its states.
- :mod:`peek.rollout.backend`: the :class:`~peek.rollout.backend.HostBackend`
  interface; :mod:`peek.rollout.backends.plain` implements it for plain
  hosts and provides :func:`~peek.rollout.backends.plain.activate_on_sys_path`.

Everything here is blocking; services call it in an executor.
"""
