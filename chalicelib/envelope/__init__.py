"""The record contract: the schema file, its validators and decoder, and the
normalizer that turns every source payload into an envelope."""
