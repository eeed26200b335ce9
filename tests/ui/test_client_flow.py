"""gradio_client against the served app: upload, ingest, ask, citations point at the right page."""

from __future__ import annotations

from gradio_client import Client, handle_file

from longlens.ui.app import message_text


def test_upload_ask_cites_right_page(served, guide_pdf):
    url, lens, _gen = served
    client = Client(url, verbose=False)
    status, _choices, _docs = client.predict([handle_file(str(guide_pdf))], "harbour", api_name="/upload")
    assert "guide.pdf" in status and "ok" in status
    history, _src = client.predict("Who is the lighthouse keeper?", [], ["harbour"], 4, False, True, 0.0,
                                          api_name="/ask")
    text = message_text(history[-1]["content"])
    assert "Vasquez" in text
    n = text.split("[", 1)[1].split("]", 1)[0]
    assert f"[{n}] guide.pdf p. 2" in text  # the cited marker resolves to the page holding the fact
