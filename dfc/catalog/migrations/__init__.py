"""Alembic migrations of the catalogue schema (run through :mod:`dfc.catalog._migrate`)."""
