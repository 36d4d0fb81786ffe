"""user's schema history (Alembic revision scripts in ``versions/``)."""
