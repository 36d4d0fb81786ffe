"""The one Alembic environment (``env.py``) and revision template every Peek history uses."""
