"""Everything deployed to Lambda: sources, envelope, enrichment, AWS adapters, API logic."""
