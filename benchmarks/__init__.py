"""Reproducible experiment scripts and suites whose output goes into the docs."""
