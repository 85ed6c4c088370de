"""Persistence: what must survive a restart, in SQLite (one process) or PostgreSQL."""
