"""Local-only tooling: the offline AWS emulation, the local pipeline, Parquet and SQL.

Nothing in this package is deployed to Lambda; it may import moto, pyarrow,
duckdb and sqlglot, which ``chalicelib`` never does.
"""
