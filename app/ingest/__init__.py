"""Ingestion: files found, parsed and chunked in worker processes, embedded in batches, stored."""
