"""Model wrappers: embedders, rerankers, media models, and the native LLM engine."""
