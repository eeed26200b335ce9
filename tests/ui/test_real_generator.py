"""End to end with the packaged default generator (SmolLM2): the served app streams a real answer."""

from __future__ import annotations

from gradio_client import Client, handle_file

from longlens.ui.app import launch_app, message_text
from tests.ui.conftest import free_port


def test_real_generator_answers(lens, guide_pdf):
    port = free_port()
    demo = launch_app(lens, port=port, prevent_thread_lock=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict([handle_file(str(guide_pdf))], "harbour", api_name="/upload")
        history, _ = client.predict("Who is the lighthouse keeper?", [], ["harbour"], 3, False, True, 0.0,
                                    api_name="/ask")
        text = message_text(history[-1]["content"])
        assert text.strip() and "guide.pdf" in text  # a real answer plus its cited sources
    finally:
        demo.close()
