"""Tweet sources behind one small interface; chosen by ``TWEETLAKE_SOURCE``.

See :mod:`chalicelib.ingest.sources.base` for the interface and
:mod:`chalicelib.ingest.sources.factory` for how a name becomes a source.
"""
