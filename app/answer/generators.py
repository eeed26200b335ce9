"""Pick the answer generator named in the settings: transformers, the native engine, or an HTTP server."""

from __future__ import annotations

from longlens.config import Settings
from longlens.models.generation import Generator
from longlens.schema import LongLensError


def make_generator(settings: Settings) -> Generator:
    kind = settings.generator.lower()
    if kind == "transformers":
        from longlens.models.hf_generator import TransformersGenerator

        return TransformersGenerator(settings.llm)
    if kind == "native":
        from longlens.models.hf_generator import resolve_llm_path
        from longlens.models.llm.generator import NativeGenerator

        return NativeGenerator(resolve_llm_path(settings.llm))
    if kind == "openai":
        if not settings.llm_base_url:
            raise LongLensError("generator 'openai' needs LONGLENS_LLM_BASE_URL (e.g. http://127.0.0.1:8000/v1)")
        from longlens.models.openai_generator import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator(base_url=settings.llm_base_url, model=settings.llm)
    raise LongLensError(f"unknown generator '{settings.generator}' (transformers, native or openai)")
