"""Alembic migrations of the case store (see README, "Schema migrations")."""
