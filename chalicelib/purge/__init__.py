"""The physical purge: deleted tweets leave every object of the lake within 24 hours.

The consumer records a request in the state table for each delete it applies
(:mod:`chalicelib.purge.requests`); a scheduled function (``app.purge_lake``)
reads the pending requests, rewrites every ``raw/``, ``curated/``,
``quarantine/`` and ``firehose-errors/`` object that still holds one of those
tweets (:mod:`chalicelib.purge.engine`, rules in :mod:`chalicelib.purge.match`)
and marks the requests purged. docs/local-lake.md says what is removed and why.
"""
