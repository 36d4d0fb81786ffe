"""The platform's own schema history (see ``migrations/README.md`` at the top of the repository)."""
