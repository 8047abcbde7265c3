"""Fixtures the plugin tests of several files share."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """The small glyph world's private cache folder (``helpers.glyph_worlds``), one per session, so every
    glyph-world test file draws it once."""
    return tmp_path_factory.mktemp("glyph-world-cache")
