"""Triton kernels for the LLM engine, each with a PyTorch reference twin."""
