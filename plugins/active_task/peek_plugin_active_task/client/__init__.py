"""active_task does not run on the client yet: tasks reach devices when delivery lands."""
