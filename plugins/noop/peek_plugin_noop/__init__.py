"""peek_plugin_noop: the platform's own smoke test. It runs on every service,
implements every lifecycle hook (plain, async and Twisted), publishes an API
on every service and serves a route on every HTTP site."""
