"""Deploy and operations tools that run from a laptop against a stage (local or
AWS): the cost model, the Chalice config bridge, backfill, redrive and SQL on
the lake. Never deployed to Lambda."""
