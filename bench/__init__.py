"""Benchmarks: ``python -m bench.<topic>`` from the repo root; each prints ``name: value unit``.

Not part of the tests: figures go in the docs and the closing notes.
"""
