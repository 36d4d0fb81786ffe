"""The admin site's login: the admin password, sessions and CSRF protection.

- **Password.** ``peek admin set-password`` sets it; otherwise the server
  generates one on first start and writes it to
  ``<data_dir>/server/admin-password`` (mode 0600) for the operator to read.
  Only its argon2 hash (``admin-password.argon2``, 0600) is used to check
  logins; ``set-password`` removes the generated file.
- **Sessions.** The admin logs in as ``admin`` with ``POST /vortex/login``
  on the admin site, the same route and session store as the admin site's
  vortex WebSocket (cookie ``peek_admin``: HttpOnly, SameSite=Strict; a
  different name from the user site's ``peek_session``, since browsers share
  cookies between ports of one host). Sessions live in the server's memory
  (their CSRF key is per process, so keeping them across a restart would not
  help). Failed logins are throttled like the user site's: past 5 for the
  name ``admin`` or 20 from one address, ``429`` with ``Retry-After``
  (:class:`~peek.vortex.sessions.LoginLimiter`, in the gateway's login).
- **CSRF.** ``GET /api/admin/session`` answers ``{"user", "csrf"}``; every
  state-changing request made with the session cookie must carry that token
  in ``X-Peek-CSRF`` (synchroniser token), and a cross-origin ``Origin`` is
  refused outright. The command line's local admin token, or a session
  sent as ``Authorization: Bearer`` (not a cookie), needs no CSRF token.

Everything on the admin site below ``/api/``, ``/plugins/``, ``/ui/`` and
the vortex socket needs one of the two; the shell's own files and the login
do not.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from peek.config import PeekConfig
from peek.errors import PeekError
from peek.plugin.vortex import Caller
from peek.vortex.browser import ACTION_PATH, WS_PATH, SessionStore
from peek.vortex.envelope import Frame
from peek.vortex.hub import ServerVortex, Sink
from peek.vortex.tokens import write_secret_file

__all__ = [
    "ADMIN_COOKIE",
    "ADMIN_USER",
    "CSRF_HEADER",
    "AdminAuth",
    "AdminAuthError",
    "AdminVortexHub",
    "admin_password_file",
    "admin_password_hash_file",
    "ensure_admin_password",
    "set_admin_password",
]

log = logging.getLogger(__name__)

ADMIN_USER = "admin"
ADMIN_COOKIE = "peek_admin"
CSRF_HEADER = "X-Peek-CSRF"
SESSION_PATH = "/api/admin/session"
GENERATED_PASSWORD_BYTES = 18
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PROTECTED = ("/api/", "/plugins/", "/ui/")
# Open to anyone: the login itself and who-am-I (which says "nobody" without a session).
_OPEN = frozenset({"/vortex/login", "/vortex/logout", SESSION_PATH, "/healthz"})


class AdminAuthError(PeekError):
    """The admin password cannot be set or read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def admin_password_file(config: PeekConfig) -> Path:
    """The generated admin password, for the operator to read (0600; absent once set)."""
    return config.data_dir / "server" / "admin-password"


def admin_password_hash_file(config: PeekConfig) -> Path:
    return config.data_dir / "server" / "admin-password.argon2"


def ensure_admin_password(config: PeekConfig) -> str:
    """The admin password's hash, generating a password on first start. Blocking."""
    hash_file = admin_password_hash_file(config)
    try:
        stored = hash_file.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    except FileNotFoundError:
        pass
    password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    hashed = PasswordHasher().hash(password)
    write_secret_file(admin_password_file(config), password + "\n")
    write_secret_file(hash_file, hashed + "\n")
    log.warning(
        "generated an admin password for the admin site in %s "
        "(change it with `peek admin set-password`)",
        admin_password_file(config),
    )
    return hashed


def set_admin_password(config: PeekConfig, password: str) -> None:
    """Set the admin password (takes effect at the server's next login check). Blocking."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminAuthError(f"the admin password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AdminAuthError(
            f"the admin password may have at most {MAX_PASSWORD_LENGTH} characters"
        )
    write_secret_file(admin_password_hash_file(config), PasswordHasher().hash(password) + "\n")
    admin_password_file(config).unlink(missing_ok=True)


def _verify(config: PeekConfig, password: str) -> bool:
    # Read each time: `peek admin set-password` on the host takes effect without a restart.
    try:
        stored = admin_password_hash_file(config).read_text(encoding="utf-8").strip()
        return PasswordHasher().verify(stored, password)
    except (FileNotFoundError, VerificationError, InvalidHashError):
        return False


class AdminAuth:
    """Admin logins, sessions and CSRF checks for one server's admin site.

    ``sessions`` is the admin vortex gateway's session store, so one login
    serves the HTTP API and the WebSocket. ``admin_token`` returns the local
    admin token of the command line.
    """

    def __init__(
        self,
        config: PeekConfig,
        sessions: SessionStore,
        admin_token: Callable[[], str],
    ) -> None:
        self.config = config
        self.sessions = sessions
        self._admin_token = admin_token
        # Sessions are in memory, so a secret per process is enough for their CSRF tokens.
        self._csrf_key = secrets.token_bytes(32)

    async def authenticate(self, username: str, password: str) -> str | None:
        """The gateway's login check: ``admin`` and the admin password."""
        if username != ADMIN_USER or len(password) > MAX_PASSWORD_LENGTH:
            return None
        ok = await asyncio.get_running_loop().run_in_executor(None, _verify, self.config, password)
        return ADMIN_USER if ok else None

    def csrf_token(self, session: str) -> str:
        return hmac.new(self._csrf_key, session.encode(), hashlib.sha256).hexdigest()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(SESSION_PATH, self._session)]

    async def _session(self, request: web.Request) -> web.Response:
        token = request.cookies.get(ADMIN_COOKIE)
        user = self.sessions.user(token)
        body: dict[str, Any] = {"user": user, "csrf": None}
        if user is not None and token:
            body["csrf"] = self.csrf_token(token)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    def _bearer_ok(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expected = self._admin_token()
        return (
            scheme.lower() == "bearer"
            and bool(expected)
            and hmac.compare_digest(token.strip().encode(), expected.encode())
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if request.method in _UNSAFE:
            _check_origin(request)
        needs_login = path.startswith(_PROTECTED) or path in (WS_PATH, ACTION_PATH)
        if needs_login and path not in _OPEN and not self._bearer_ok(request):
            bearer = _bearer(request)
            from_cookie = bearer is None
            token = request.cookies.get(ADMIN_COOKIE) if from_cookie else bearer
            if token is None or self.sessions.user(token) is None:
                raise web.HTTPUnauthorized(text="log in to the admin site first")
            # Browsers send the cookie by themselves, even for another site's forms: a
            # cookie-borne session must prove, with its CSRF token, that the request
            # comes from our own page. The vortex action POST takes a content type no
            # form can send. A session sent as a bearer token was sent on purpose.
            if from_cookie and request.method in _UNSAFE and path != ACTION_PATH:
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent.encode(), self.csrf_token(token).encode()):
                    log.warning("refused %s %s: bad CSRF token", request.method, path)
                    raise web.HTTPForbidden(text=f"missing or wrong {CSRF_HEADER} header")
        response: web.StreamResponse = await handler(request)
        return response


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.host):
        log.warning("refused %s %s from origin %s", request.method, request.path, origin)
        raise web.HTTPForbidden(text="cross-origin requests are not allowed on the admin site")


class AdminVortexHub:
    """The server's vortex as the admin site's browser gateway sees it.

    Browsers on the admin site subscribe to the server's own observables and
    send actions straight to its processors; the caller is the ``admin`` user
    on the ``server`` service (``via_browser``).
    """

    def __init__(self, vortex: ServerVortex, service_name: str) -> None:
        self.vortex = vortex
        self.service_name = service_name

    async def subscribe(self, sink: Sink, plugin: str, key: str, selector: dict[str, Any]) -> str:
        return await self.vortex.subscribe(sink, plugin, key, selector)

    def unsubscribe(self, sink: Sink, sid: str) -> None:
        self.vortex.unsubscribe(sink, sid)

    def drop_sink(self, sink: Sink, sids: list[str] | None = None) -> None:
        self.vortex.drop_sink(sink, sids)

    async def forward_action(self, frame: Frame, *, user: str | None, browser: bool) -> bytes:
        caller = Caller("server", self.service_name, user=user, via_browser=browser)
        return await self.vortex.process_action(frame, caller)
