"""Deleted tweets out of every lake object: the requests the consumer records and the purge."""
