"""The Gradio web app: collections, uploads with live progress, streamed cited answers and a source viewer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
from gradio import processing_utils
from gradio import utils as gradio_utils

from longlens.answer.grounding import AnswerCheck, dropped_note
from longlens.answer.locations import location
from longlens.answer.pipeline import AskOptions
from longlens.api import LongLens
from longlens.models.generation import GenerationParams
from longlens.retrieval.parsers.detect import suffixes_of
from longlens.retrieval.selection import SelectionConfig
from longlens.schema import Citation, LongLensError
from longlens.store.conversations import Conversations
from longlens.store.names import BadName, clean_name
from longlens.store.sharing import Shares
from longlens.store.users import User, Users, owned_key
from longlens.ui.access import Access, visible_collections
from longlens.ui.progress import QueueProgress
from longlens.ui.safety import MAX_UPLOAD_BYTES, UploadRejected, accept_upload, forget_upload
from longlens.ui.viewer import passage_markdown, render_pdf_page

VIDEO_SUFFIXES = suffixes_of("video")

MAX_COLLECTION_CHARS = 150
"""What a user may name a collection: the stored key adds the owner id in front (longlens.store.users.owned_key)."""
ANONYMOUS = "anonymous"
"""Who everybody is when login is off."""


def message_text(content: object) -> str:
    """Chatbot content as plain text (Gradio 6 may hand back a list of typed blocks)."""
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def collection_name(text: str) -> str:
    """A collection name as typed (empty means "default"), or BadName saying what is wrong with it."""
    return clean_name(text if text.strip() else "default", "collection name", MAX_COLLECTION_CHARS)


class WebApp:
    """State shared by all sessions: one LongLens, with a lock so ingestion and answering don't corrupt indexes."""

    def __init__(self, ll: LongLens, max_upload_bytes: int = MAX_UPLOAD_BYTES, admins: set[str] | None = None,
                 known_users: set[str] | None = None) -> None:
        """`admins` get the admin role on first sight; `known_users` (the users file's names, None when login is
        off) are the names a collection may be shared with."""
        self.ll = ll
        self.max_upload_bytes = max_upload_bytes
        self.write_lock = threading.Lock()
        self.conversations = Conversations(ll.store.engine)
        self.users = Users(ll.store.engine)
        self.shares = Shares(ll.store.engine)
        self.known_users = known_users
        for name in admins or ():
            self.users.set_role(name, "admin")

    def user(self, who: gr.Request | User | str | None) -> User:
        """The logged-in user of a request (a row made on first sight); a User or a name passes through."""
        if isinstance(who, User):
            return who
        name = who if isinstance(who, str) else getattr(who, "username", None)
        return self.users.get_or_create(name or ANONYMOUS)

    def conversation_choices(self, user: User) -> list[tuple[str, int]]:
        return [(f"#{cid} {title}", cid) for cid, title in self.conversations.list(user)]

    def save_conversation(self, history: list[dict], conv_id: int | None, request: gr.Request) -> tuple[int, object]:
        """Persist the chat after each answer so it can be reopened later."""
        user = self.user(request)
        messages = [{"role": m["role"], "content": message_text(m["content"])} for m in history]
        cid = self.conversations.save(user, conv_id, messages) if messages else conv_id
        return cid, gr.update(choices=self.conversation_choices(user), value=cid)

    def reopen(self, conv_id: int | None, request: gr.Request) -> tuple[list[dict], int | None]:
        if conv_id is None:
            return [], None
        return self.conversations.load(self.user(request), int(conv_id)), int(conv_id)

    def visible(self, who: User | str) -> dict[str, Access]:
        return visible_collections(self.ll.store, self.users, self.shares, self.user(who))

    def my_collections(self, who: User | str) -> list[str]:
        """The labels of the collections `who` may read: own names first, then shared ones (all, for an admin)."""
        return list(self.visible(who))

    def documents_table(self, who: User | str, name: str) -> list[list[str]]:
        access = self.visible(who).get(name)
        if access is None:
            return []
        return [[Path(d.source_path).name, d.doc_type, d.status, d.error or ""] for d in self.ll.documents(access.key)]

    def forget_uploads(self, paths: list[str]) -> None:
        """Delete the stored uploads no document uses any longer (call with the write lock held)."""
        for path in set(paths):
            forget_upload(path, self.ll.settings.data_dir, self.ll.store.source_in_use)

    def can_read_document(self, user: User, path: str) -> bool:
        """Whether `path` is the stored source of a document in a collection `user` may read."""
        return any(d.source_path == path for access in self.visible(user).values()
                   for d in self.ll.documents(access.key))

    def upload(self, files: list[str] | None, name: str, request: gr.Request) -> Iterator[tuple[str, object, object]]:
        """Copy, check and ingest; yields a live per-file status table."""
        user = self.user(request)
        try:
            name = collection_name(name)
        except BadName as exc:
            yield f"- rejected: {exc}", gr.update(), gr.update()
            return
        target = self.visible(user).get(name)
        if target is not None and not target.writable:  # refused before any file is stored
            yield f"- rejected: '{name}' is shared with you to read; upload into a collection of your own", \
                gr.update(), gr.update()
            return
        accepted: list[str] = []
        lines: list[str] = []
        for f in files or []:
            path = getattr(f, "name", f)
            try:
                accepted.append(str(accept_upload(path, Path(path).name, self.ll.settings.data_dir,
                                                  self.max_upload_bytes)))
            except UploadRejected as exc:
                lines.append(f"- rejected: {exc}")
        if not accepted:
            yield "\n".join(lines) or "no files", gr.update(), gr.update()
            return
        progress = QueueProgress()

        def work() -> None:
            try:
                with self.write_lock:
                    if target is not None:
                        key = target.key
                    else:
                        key = owned_key(user.id, name)
                        self.ll.create_collection(key, owner_id=user.id)
                    self.ll.ingest(accepted, collection=key, progress=progress)
            except Exception as exc:  # noqa: BLE001 - whatever it was, the upload ends with its reason
                progress.fail_unfinished(accepted, f"{type(exc).__name__}: {exc}")
            finally:  # the status stops spinning and the upload slot is freed, whatever happened
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
        visible = self.visible(request)
        targets = [visible[n].key for n in (names or []) if n in visible] or [a.key for a in visible.values()]
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
        if not self.can_read_document(self.user(request), chosen["document"]):
            return hide, hide, gr.update(value="not your document", visible=True)
        suffix = path.suffix.lower()
        if suffix == ".pdf" and chosen.get("page_start"):
            return gr.update(value=render_pdf_page(path, chosen["page_start"], chosen["quote"]), visible=True), \
                hide, gr.update(value=f"{path.name} p. {chosen['page_start']}", visible=True)
        if suffix in VIDEO_SUFFIXES:
            # a copy in Gradio's cache, under a folder named by its content's hash: the data directory itself
            # is never served (launch_app blocks it)
            served = processing_utils.save_file_to_cache(path, gradio_utils.get_upload_folder())
            return hide, gr.update(value=served, playback_position=float(chosen.get("t_start") or 0),
                                   visible=True), gr.update(value=path.name, visible=True)
        try:
            text = path.read_text(errors="replace")
        except OSError:
            text = ""
        return hide, hide, gr.update(value=passage_markdown(text, chosen["quote"]), visible=True)

    def delete_document(self, name: str, doc: str, request: gr.Request) -> list[list[str]]:
        user = self.user(request)
        access = self.visible(user).get(name)
        if access is not None and access.writable and doc.strip():
            with self.write_lock:
                removed = self.ll.remove([doc.strip()], collection=access.key)
                self.forget_uploads([d.source_path for d in removed])
        return self.documents_table(user, name)

    def rename(self, name: str, new: str, request: gr.Request) -> tuple[object, str]:
        return self.manage("rename", name, new, request)

    def delete(self, name: str, new: str, request: gr.Request) -> tuple[object, str]:
        return self.manage("delete", name, new, request)

    def share(self, name: str, reader: str, request: gr.Request) -> tuple[object, str]:
        return self.manage("share", name, reader, request)

    def unshare(self, name: str, reader: str, request: gr.Request) -> tuple[object, str]:
        return self.manage("unshare", name, reader, request)

    def on_load(self, request: gr.Request) -> tuple[object, list[list[str]], object]:
        user = self.user(request)
        return (gr.update(choices=self.my_collections(user)), self.documents_table(user, "default"),
                gr.update(choices=self.conversation_choices(user)))

    def manage(self, action: str, name: str, new: str, request: gr.Request) -> tuple[object, str]:
        """Rename or delete one of the user's collections; the message says what happened."""
        user = self.user(request)
        try:
            message = self._manage(user, action, name, new)
        except LongLensError as exc:  # BadName included: a refused new name
            message = f"{action}: {exc}"
        return gr.update(choices=self.my_collections(user)), message

    def _manage(self, user: User, action: str, name: str, new: str) -> str:
        access = self.visible(user).get(name)
        if access is None:
            return f"{action}: you have no collection named '{name}'"
        if not access.writable:
            return f"{action}: '{name}' is shared with you to read only"
        with self.write_lock:
            if action in ("share", "unshare"):
                return self._share(access, action, new)
            if action == "rename":
                if not new.strip():
                    return "rename: type the new name first"
                target = collection_name(new)
                key = owned_key(access.owner_id, target) if access.owner_id is not None else target
                if key in {c.name for c in self.ll.store.collections(counts=False)}:
                    whose = "you already have" if access.owner_id == user.id else "its owner already has"
                    return f"rename: {whose} a collection named '{target}'"
                self.ll.rename_collection(access.key, key)
                return f"renamed '{name}' to '{target}'"
            sources = [d.source_path for d in self.ll.documents(access.key)]
            self.ll.delete_collection(access.key)
            self.forget_uploads(sources)
            return f"deleted '{name}' and its {len(sources)} document(s)"

    def _share(self, access: Access, action: str, reader_name: str) -> str:
        """Let another user read the collection (or stop letting them)."""
        reader_name = clean_name(reader_name, "user name")
        if self.known_users is not None and reader_name not in self.known_users:
            return f"{action}: there is no user named '{reader_name}'"
        reader = self.users.get_or_create(reader_name)
        if reader.id == access.owner_id:
            return f"{action}: '{reader_name}' owns '{access.label}'"
        if action == "share":
            done = self.shares.share(access.collection_id, reader.id)
            return f"shared '{access.label}' with {reader_name} (read-only)" if done else \
                f"share: {reader_name} can already read '{access.label}'"
        done = self.shares.unshare(access.collection_id, reader.id)
        return f"stopped sharing '{access.label}' with {reader_name}" if done else \
            f"unshare: '{access.label}' was not shared with {reader_name}"


def build_app(ll: LongLens, max_upload_bytes: int = MAX_UPLOAD_BYTES, users: dict[str, str] | None = None,
              admins: set[str] | None = None) -> gr.Blocks:
    """The Blocks UI; `launch_app` serves it. With login off everybody is the one user ANONYMOUS, an admin:
    a single person on their own machine sees what the CLI ingested too."""
    if users:
        web = WebApp(ll, max_upload_bytes, admins=admins, known_users=set(users))
    else:
        web = WebApp(ll, max_upload_bytes, admins={ANONYMOUS})
    # cached copies of cited videos and rendered pages are dropped after an hour
    with gr.Blocks(title="longlens", delete_cache=(3600, 3600)) as demo:
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
                    reader = gr.Textbox(label="Share the collection with (user name, read-only)")
                    with gr.Row():
                        share_btn = gr.Button("Share")
                        unshare_btn = gr.Button("Stop sharing")
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
        share_btn.click(web.share, [collection, reader], [chosen, manage_status], api_name="share_collection")
        unshare_btn.click(web.unshare, [collection, reader], [chosen, manage_status], api_name="unshare_collection")
        demo.load(web.on_load, None, [chosen, docs, past])
    demo.queue(default_concurrency_limit=2)
    return demo


def launch_app(ll: LongLens, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
               users: dict[str, str] | None = None, prevent_thread_lock: bool = False,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, admins: set[str] | None = None) -> gr.Blocks:
    from starlette.middleware import Middleware

    from longlens.ui.auth import make_auth
    from longlens.ui.throttle import LoginThrottleMiddleware

    demo = build_app(ll, max_upload_bytes, users, admins)
    demo.launch(server_name=host, server_port=port, share=share, auth=make_auth(users),
                app_kwargs={"middleware": [Middleware(LoginThrottleMiddleware)]},
                max_file_size=max_upload_bytes, prevent_thread_lock=prevent_thread_lock,
                # nothing of the data directory is served by path: a cited source is read, rendered or copied
                # into Gradio's content-addressed cache by open_citation, after its ownership check
                allowed_paths=[], blocked_paths=[str(ll.settings.data_dir.resolve())], show_error=True)
    return demo
