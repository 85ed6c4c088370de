"""Persistence: what must survive a restart, in SQLite through aiosqlite."""
