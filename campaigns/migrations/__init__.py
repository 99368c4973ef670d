"""Alembic migrations of the campaign storage, shipped inside the package."""
