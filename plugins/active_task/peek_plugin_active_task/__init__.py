"""peek_plugin_active_task: tasks that other plugins create for users.

On the server it publishes :class:`peek_plugin_active_task.server.ActiveTaskApi`
as the ``active_task`` API. It checks usernames with whichever plugin
provides the ``user`` API. Each user's tasks reach their browsers live
through the vortex (``active_task.Task``, see :mod:`peek_plugin_active_task.tuples`),
and the mobile app's My tasks page lets them complete one, offline too.
"""
