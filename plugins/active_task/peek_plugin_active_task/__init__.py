"""peek_plugin_active_task: tasks that other plugins create for users.

On the server it publishes :class:`peek_plugin_active_task.server.ActiveTaskApi`
as the ``active_task`` API. It checks usernames with whichever plugin
provides the ``user`` API. Delivering tasks to users' devices (the client
and the mobile app) lands with the vortex observables; until then tasks are
kept and queried on the server only.
"""
