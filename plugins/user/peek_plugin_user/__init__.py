"""peek_plugin_user: the user directory, with password login.

The server keeps the users and their argon2 password hashes and publishes a
:class:`peek_plugin_user.server.UserApi` as the ``user`` API. The client
publishes the same API, answered by the server over the exchange site; on
the client it is read-only. Other plugins declare ``[requires] user = ">=0.1"``
and call ``ctx.api("user")``.
"""
