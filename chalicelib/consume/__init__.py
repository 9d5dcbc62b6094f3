"""The Kinesis consumer's side: the handler, the pure transform, the
exactly-once write plan and the repository port it writes through."""
