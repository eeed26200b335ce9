"""Follow-ups carry the chat history to the model; conversations persist per user and reopen."""

from __future__ import annotations

from types import SimpleNamespace

from longlens.store.conversations import Conversations
from longlens.ui.app import WebApp


def test_follow_up_history_and_reopen(lens, guide_pdf):
    from tests.ui.conftest import CitingGenerator

    gen = CitingGenerator()
    lens.generator = gen
    web = WebApp(lens)
    alice, bob = SimpleNamespace(username="alice"), SimpleNamespace(username="bob")
    list(web.upload([str(guide_pdf)], "harbour", alice))
    history, _c, _s = list(web.ask("Who is the lighthouse keeper?", [], ["harbour"], 4, False, True, 0.0, alice))[-1]
    cid, _ = web.save_conversation(history, None, alice)
    history, _c, _s = list(web.ask("And where do visitors register?", history, ["harbour"], 4, False, True, 0.0,
                                   alice))[-1]
    contents = [m["content"] for m in gen.prompts[-1]]
    assert any("lighthouse keeper" in c for c in contents[:-1])  # the earlier turn reached the model
    assert web.save_conversation(history, cid, alice)[0] == cid
    reopened, rid = web.reopen(cid, alice)
    assert rid == cid and len(reopened) == 4 and reopened[0]["content"] == "Who is the lighthouse keeper?"
    assert web.reopen(cid, bob)[0] == []  # another user's conversation reads as missing
    assert Conversations(lens.store.engine).list(web.user("bob")) == []
