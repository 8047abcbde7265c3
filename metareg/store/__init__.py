"""The results store: one SQLite file of runs, the claims that let many processes share it, and its schema.

Owns the run rows (config, metrics, history, environment, status), the claim protocol (owner token, heartbeat,
abandoned claims), the schema and its migrations (``schema``), and the store's own errors (``errors``). It knows the
families only as its columns and nothing of grids or boards: it stores and returns rows.
"""
