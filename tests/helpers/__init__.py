"""Helpers shared by the tests (never a test module): import them as ``from helpers.NAME import ...``; the
folder is on pytest's ``pythonpath`` (pyproject.toml)."""
