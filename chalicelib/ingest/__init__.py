"""The scheduled ingest function's side: its handler and settings, the Kinesis
producer, the checkpoint, and the sources it reads."""
