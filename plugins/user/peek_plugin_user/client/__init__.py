"""The public API ``user`` publishes on the client: the same :class:`UserApi` as on the server.

On the client every call goes to the server over the exchange site, so it
needs the server to be reachable (``peek.vortex.exchange.ExchangeError``
otherwise). Reads and :meth:`UserApi.authenticate` work; writes raise
:class:`UserApiReadOnly`.
"""

from peek_plugin_user.server import (
    InvalidDisplayName,
    InvalidPassword,
    InvalidUsername,
    UnknownUser,
    User,
    UserApi,
    UserApiReadOnly,
    UserError,
    UserExists,
)

__all__ = [
    "InvalidDisplayName",
    "InvalidPassword",
    "InvalidUsername",
    "UnknownUser",
    "User",
    "UserApi",
    "UserApiReadOnly",
    "UserError",
    "UserExists",
]
