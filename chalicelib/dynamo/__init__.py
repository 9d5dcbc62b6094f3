"""The DynamoDB model: table definitions, item shapes, the identity hash, the
attribute-value codec and sizing, and the batched, retried repository."""
