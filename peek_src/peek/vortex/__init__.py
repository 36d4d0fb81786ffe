"""Peek's data transport: the authenticated service link (and, later, tuples,
observables and actions built on it)."""
