"""Tooling that is not the product: test-data synthesis and documentation screenshots (not installed)."""
