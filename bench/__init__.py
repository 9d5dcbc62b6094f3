"""Benchmarks: ``python -m bench.<topic>`` from the repository root, each under a minute."""
