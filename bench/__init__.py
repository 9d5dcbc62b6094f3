"""Benchmarks: ``python -m bench.<topic>`` from the repo root; each prints ``name: value unit``."""
