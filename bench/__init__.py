"""Benchmarks: ``python -m bench.<topic>`` from the repo root; not part of the tests."""
