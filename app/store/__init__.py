"""The store: the database's tables and numbered migrations, its full-text index, and the FAISS and BM25
indexes kept in step with it."""
