"""Parsing, chunking, indexing and ranking: everything between a source file and a ranked list of passages."""
