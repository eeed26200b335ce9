"""The Gradio web app: collections, uploads with live progress, streamed cited answers and a source viewer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from longlens.answer import AskOptions
from longlens.api import LongLens
from longlens.conversations import Conversations
from longlens.grounding import AnswerCheck, dropped_note
from longlens.locations import location
from longlens.models.generation import GenerationParams
from longlens.retrieval.selection import SelectionConfig
from longlens.schema import Citation
from longlens.ui.progress import QueueProgress
from longlens.ui.safety import MAX_UPLOAD_BYTES, UploadRejected, accept_upload, safe_user
from longlens.ui.viewer import passage_markdown, render_pdf_page

SEP = "::"  # collections are stored as "<user>::<name>" so one user never sees another's


def _user(request: gr.Request | None) -> str:
    return safe_user(getattr(request, "username", None) if request else None)


def message_text(content: object) -> str:
    """Chatbot content as plain text (Gradio 6 may hand back a list of typed blocks)."""
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def _full(user: str, name: str) -> str:
    return f"{user}{SEP}{name.strip() or 'default'}"


class WebApp:
    """State shared by all sessions: one LongLens, with a lock so ingestion and answering don't corrupt indexes."""

    def __init__(self, ll: LongLens, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.ll = ll
        self.max_upload_bytes = max_upload_bytes
        self.write_lock = threading.Lock()
        self.conversations = Conversations(ll.store.engine)

    def conversation_choices(self, user: str) -> list[tuple[str, int]]:
        return [(f"#{cid} {title}", cid) for cid, title in self.conversations.list(user)]

    def save_conversation(self, history: list[dict], conv_id: int | None, request: gr.Request) -> tuple[int, object]:
        """Persist the chat after each answer so it can be reopened later."""
        user = _user(request)
        messages = [{"role": m["role"], "content": message_text(m["content"])} for m in history]
        cid = self.conversations.save(user, conv_id, messages) if messages else conv_id
        return cid, gr.update(choices=self.conversation_choices(user), value=cid)

    def reopen(self, conv_id: int | None, request: gr.Request) -> tuple[list[dict], int | None]:
        if conv_id is None:
            return [], None
        return self.conversations.load(_user(request), int(conv_id)), int(conv_id)

    def my_collections(self, user: str) -> list[str]:
        prefix = f"{user}{SEP}"
        return [c.name[len(prefix):] for c in self.ll.collections() if c.name.startswith(prefix)]

    def documents_table(self, user: str, name: str) -> list[list[str]]:
        if name not in self.my_collections(user):
            return []
        return [[Path(d.source_path).name, d.doc_type, d.status, d.error or ""]
                for d in self.ll.documents(_full(user, name))]

    def upload(self, files: list[str] | None, name: str, request: gr.Request) -> Iterator[tuple[str, object, object]]:
        """Copy, check and ingest; yields a live per-file status table."""
        user = _user(request)
        name = name.strip() or "default"
        accepted: list[str] = []
        lines: list[str] = []
        for f in files or []:
            path = getattr(f, "name", f)
            try:
                accepted.append(str(accept_upload(path, Path(path).name, self.ll.settings.data_dir, user,
                                                  self.max_upload_bytes)))
            except UploadRejected as exc:
                lines.append(f"- rejected: {exc}")
        if not accepted:
            yield "\n".join(lines) or "no files", gr.update(), gr.update()
            return
        progress = QueueProgress()
        result: dict[str, object] = {}

        def work() -> None:
            with self.write_lock:
                result["report"] = self.ll.ingest(accepted, collection=_full(user, name), progress=progress)
            progress.done.set()

        threading.Thread(target=work, daemon=True).start()
        while not progress.done.wait(0.5):
            yield "\n".join(lines + progress.lines()), gr.update(), gr.update()
        yield ("\n".join(lines + progress.lines()),
               gr.update(choices=self.my_collections(user), value=[name]),
               self.documents_table(user, name))

    def ask(self, message: str, history: list[dict], names: list[str], passages: int, rerank: bool,
            reorder: bool, temperature: float, request: gr.Request) -> Iterator[tuple[list[dict], list[dict], object]]:
        """Stream the answer into the chat, then the citations into the source picker."""
        user = _user(request)
        mine = set(self.my_collections(user))
        targets = [_full(user, n) for n in (names or []) if n in mine] or [_full(user, n) for n in mine]
        prior = [{"role": m["role"], "content": message_text(m["content"])} for m in history]
        history = prior + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        if not targets:
            history[-1]["content"] = "Upload a document first."
            yield history, [], gr.update(choices=[], value=None)
            return
        options = AskOptions(max_passages=int(passages), rerank=rerank,
                             selection=SelectionConfig(reorder=reorder),
                             generation=GenerationParams(max_tokens=256, temperature=float(temperature)),
                             history=prior)
        cites: list[Citation] = []
        check = AnswerCheck()
        text = ""
        for piece in self.ll.stream(message, collection=targets, options=options):
            if isinstance(piece, str):
                text += piece
            elif isinstance(piece, AnswerCheck):
                check = piece
                continue
            elif isinstance(piece, Citation):
                cites.append(piece)
                continue
            history[-1]["content"] = text
            yield history, [], gr.update()
        if cites:
            text += "\n\n" + "\n".join(f"[{c.n}] {Path(c.document).name} {location(c)}" for c in cites)
        if check.dropped:
            text += f"\n\n_{dropped_note(len(check.dropped))}_"
        history[-1]["content"] = text
        data = [c.to_dict() for c in cites]
        labels = [f"[{c.n}] {Path(c.document).name} {location(c)}" for c in cites]
        yield history, data, gr.update(choices=labels, value=None)

    def open_citation(self, label: str | None, cites: list[dict], request: gr.Request) -> tuple[object, object, object]:
        """Show the cited source: PDF page image, video at the second, or the passage in its text."""
        hide = gr.update(visible=False)
        chosen = next((c for c in cites or [] if label and label.startswith(f"[{c['n']}]")), None)
        if chosen is None:
            return hide, hide, gr.update(value="", visible=False)
        path = Path(chosen["document"])
        uploads = (self.ll.settings.data_dir / "uploads" / _user(request)).resolve()
        if uploads not in path.resolve().parents:
            return hide, hide, gr.update(value="not your document", visible=True)
        suffix = path.suffix.lower()
        if suffix == ".pdf" and chosen.get("page_start"):
            return gr.update(value=render_pdf_page(path, chosen["page_start"], chosen["quote"]), visible=True), \
                hide, gr.update(value=f"{path.name} p. {chosen['page_start']}", visible=True)
        if suffix in {".mp4", ".mkv", ".webm"}:
            return hide, gr.update(value=str(path), playback_position=float(chosen.get("t_start") or 0),
                                   visible=True), gr.update(value=path.name, visible=True)
        try:
            text = path.read_text(errors="replace")
        except OSError:
            text = ""
        return hide, hide, gr.update(value=passage_markdown(text, chosen["quote"]), visible=True)

    def delete_document(self, name: str, doc: str, request: gr.Request) -> list[list[str]]:
        user = _user(request)
        if name in self.my_collections(user) and doc.strip():
            with self.write_lock:
                self.ll.remove([doc.strip()], collection=_full(user, name))
        return self.documents_table(user, name)

    def rename(self, name: str, new: str, request: gr.Request) -> tuple[object, str]:
        return self.manage("rename", name, new, request)

    def delete(self, name: str, new: str, request: gr.Request) -> tuple[object, str]:
        return self.manage("delete", name, new, request)

    def on_load(self, request: gr.Request) -> tuple[object, list[list[str]], object]:
        user = _user(request)
        return (gr.update(choices=self.my_collections(user)), self.documents_table(user, "default"),
                gr.update(choices=self.conversation_choices(user)))

    def manage(self, action: str, name: str, new: str, request: gr.Request) -> tuple[object, str]:
        """Create/rename/delete one of the user's collections."""
        user = _user(request)
        mine = self.my_collections(user)
        with self.write_lock:
            if action == "rename" and name in mine and new.strip():
                self.ll.rename_collection(_full(user, name), _full(user, new))
            elif action == "delete" and name in mine:
                self.ll.delete_collection(_full(user, name))
        return gr.update(choices=self.my_collections(user)), f"{action}: done"


def build_app(ll: LongLens, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> gr.Blocks:
    """The Blocks UI; `launch_app` serves it."""
    web = WebApp(ll, max_upload_bytes)
    with gr.Blocks(title="longlens") as demo:
        cites = gr.State([])
        conv_id = gr.State(None)
        gr.Markdown("## longlens: ask your long documents and videos")
        with gr.Row():
            with gr.Column(scale=1):
                collection = gr.Textbox(value="default", label="Upload into collection")
                files = gr.File(file_count="multiple", label="Documents and videos", type="filepath")
                upload_btn = gr.Button("Ingest", variant="primary")
                status = gr.Markdown()
                docs = gr.Dataframe(headers=["file", "type", "status", "error"], label="Documents", interactive=False)
                with gr.Accordion("Manage", open=False):
                    doc_ref = gr.Textbox(label="Document file name to delete")
                    del_doc = gr.Button("Delete document")
                    new_name = gr.Textbox(label="New collection name")
                    with gr.Row():
                        rename_btn = gr.Button("Rename collection")
                        delete_btn = gr.Button("Delete collection", variant="stop")
                    manage_status = gr.Markdown()
                with gr.Accordion("Chat settings", open=False):
                    chosen = gr.CheckboxGroup(label="Collections to ask", choices=[])
                    passages = gr.Slider(1, 20, value=6, step=1, label="Passages")
                    rerank = gr.Checkbox(value=True, label="Rerank")
                    reorder = gr.Checkbox(value=True, label="Reorder (strongest at the ends)")
                    temperature = gr.Slider(0, 1.5, value=0.0, step=0.1, label="Temperature")
            with gr.Column(scale=2):
                with gr.Row():
                    past = gr.Dropdown(label="Conversations", choices=[], scale=3)
                    new_chat = gr.Button("New chat", scale=1)
                chat = gr.Chatbot(label="Chat", height=420)
                question = gr.Textbox(placeholder="Ask a question…", label="Question")
                ask_btn = gr.Button("Ask", variant="primary")
            with gr.Column(scale=2):
                source = gr.Dropdown(label="Open a citation", choices=[])
                caption = gr.Markdown(visible=False)
                page = gr.Image(label="Cited page", visible=False, interactive=False, elem_id="cited-page", height=760)
                video = gr.Video(label="Cited moment", visible=False, elem_id="cited-video")
        upload_btn.click(web.upload, [files, collection], [status, chosen, docs], concurrency_limit=2,
                         api_name="upload")
        ask_inputs = [question, chat, chosen, passages, rerank, reorder, temperature]
        ask_btn.click(web.ask, ask_inputs, [chat, cites, source], api_name="ask").then(
            web.save_conversation, [chat, conv_id], [conv_id, past], api_name="save_conversation")
        question.submit(web.ask, ask_inputs, [chat, cites, source]).then(
            web.save_conversation, [chat, conv_id], [conv_id, past])
        past.input(web.reopen, [past], [chat, conv_id])
        new_chat.click(lambda: ([], None, gr.update(value=None)), None, [chat, conv_id, past])
        source.change(web.open_citation, [source, cites], [page, video, caption], api_name="open_citation")
        del_doc.click(web.delete_document, [collection, doc_ref], [docs], api_name="delete_document")
        rename_btn.click(web.rename, [collection, new_name], [chosen, manage_status], api_name="rename_collection")
        delete_btn.click(web.delete, [collection, new_name], [chosen, manage_status], api_name="delete_collection")
        demo.load(web.on_load, None, [chosen, docs, past])
    demo.queue(default_concurrency_limit=2)
    return demo


def launch_app(ll: LongLens, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
               users: dict[str, str] | None = None, prevent_thread_lock: bool = False,
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> gr.Blocks:
    from longlens.ui.auth import make_auth

    demo = build_app(ll, max_upload_bytes)
    demo.launch(server_name=host, server_port=port, share=share, auth=make_auth(users),
                max_file_size=max_upload_bytes, prevent_thread_lock=prevent_thread_lock,
                allowed_paths=[str((ll.settings.data_dir / "uploads").resolve())], show_error=True)
    return demo
