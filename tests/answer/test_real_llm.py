"""The whole answer path with the real packaged SmolLM2 (converted from GGUF once, ~30 s on first use)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from longlens.answer.prompting import NOT_FOUND
from longlens.cli.commands import app

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_lens(tmp_path_factory, embedder):
    from longlens import LongLens

    ll = LongLens(tmp_path_factory.mktemp("data"), workers=1)
    ll.embedder = embedder
    assert not ll.ingest([SAMPLES]).failed
    yield ll
    ll.close()


def test_answers_with_a_citation_to_the_right_page(sample_lens):
    answer = sample_lens.ask("How many grey heron nesting pairs did the 2025 survey count?")
    assert "214" in answer.text
    pages = {(Path(c.document).name, c.page_start) for c in answer.citations}
    assert ("harrow_valley_field_guide.pdf", 4) in pages


def test_unanswerable_question_says_so(sample_lens):
    assert sample_lens.ask("What is the capital city of Mongolia?").text == NOT_FOUND


def test_ask_cli_json(sample_lens):
    res = CliRunner().invoke(
        app,
        ["ask", "What is the maximum passenger capacity of the MV Tern?", "--json", "--data-dir",
         str(sample_lens.settings.data_dir)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.stdout
    out = json.loads(res.stdout)
    assert "312" in out["answer"]
    cit = out["citations"][0]
    assert set(cit) >= {"n", "document", "chunk_id", "quote", "page_start", "page_end", "t_start", "t_end"}
    assert cit["document"].endswith("northwind_ferry_manual.docx") and f"[{cit['n']}]" in out["answer"]
    assert out["quoted"] is True and isinstance(out["dropped_sentences"], int)  # the 135M model: quote first
    res = CliRunner().invoke(
        app,
        ["ask", "What is the maximum passenger capacity of the MV Tern?", "--answer-mode", "extract", "--json",
         "--data-dir", str(sample_lens.settings.data_dir)],
        catch_exceptions=False,
    )
    quote = json.loads(res.stdout)
    assert quote["answer"].startswith("From northwind_ferry_manual.docx") and "312" in quote["answer"]
    data = str(sample_lens.settings.data_dir)
    bad = CliRunner().invoke(app, ["ask", "q?", "--answer-mode", "guess", "--data-dir", data])
    assert bad.exit_code == 2 and "unknown answer mode 'guess'" in bad.output


def test_extract_mode_never_loads_the_model_weights(sample_lens, monkeypatch):
    """Quoting needs only the tokenizer and the context window: a server in extract mode keeps ~0.5 GB free."""
    import transformers

    from longlens import LongLens
    from longlens.answer.pipeline import AskOptions
    from longlens.models.hf_generator import TransformersGenerator

    def refuse(*args, **kwargs):
        raise AssertionError("extract mode loaded the model's weights")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    ll = LongLens(sample_lens.settings.data_dir, workers=1)
    ll.embedder = sample_lens.embedder
    try:
        question = "What is the maximum passenger capacity of the MV Tern?"
        answer = ll.ask(question, options=AskOptions(answer_mode="extract"))
        assert "312" in answer.text and answer.citations
        generator = ll.generator
        assert isinstance(generator, TransformersGenerator)
        assert generator.context_window == 8192 and generator.count_tokens("MV Tern") > 0
    finally:
        ll.close()
