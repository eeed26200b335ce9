"""The `longlens` command line: ingest, ls, rm, collections, doctor, search, ask (`serve`, the web app, is added
by longlens.ui.serve, the console script's entry point, so that this layer never imports the UI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from longlens.answer.locations import location
from longlens.cli.progress import RichIngestProgress
from longlens.schema import LongLensError
from longlens.store.users import User, Users

app = typer.Typer(
    help="Ask questions of long documents and videos; answers cite the page and the second.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional here on Python 3.10
    typer.Option("--data-dir", envvar="LONGLENS_HOME", help="Data directory (default: LONGLENS_HOME or per-user)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
CollectionOpt = Annotated[Optional[str], typer.Option("--collection", "-c", help="Collection name.")]  # noqa: UP045
DocumentOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--document", "-d", help="Only this document: file name, path or id (see `longlens ls`); repeatable."
    ),
]
TypeOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--type", "-t", help="Only documents of this type: pdf, docx, html, markdown, text, video..."),
]


def lens_for(data_dir: Path | None):  # noqa: ANN202 - LongLens, imported lazily to keep --help fast
    from longlens.api import LongLens

    return LongLens(data_dir)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to ingest.")],
    collection: CollectionOpt = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Walk sub-folders too.")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", min=1, help="Parser processes.")] = None,  # noqa: UP045
    ray: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--ray", metavar="ADDRESS",
        help="Parse and embed on Ray: 'local' starts a cluster here, 'auto' or ray://HOST:10001 joins one.")] = None,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Ingest documents and videos. Exit status: 0 all ingested or skipped, 1 some failed, 2 usage error."""
    try:
        with lens_for(data_dir) as ll:
            with RichIngestProgress(err) as progress:
                report = ll.ingest(
                    paths, collection=collection, recursive=recursive, workers=workers, progress=progress, ray=ray
                )
    except LongLensError as exc:
        _fail(str(exc), 2)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_ingest_summary(report)
    raise typer.Exit(report.exit_code)


def _print_ingest_summary(report) -> None:  # noqa: ANN001 - IngestReport
    table = Table(title=f"Ingestion into '{report.collection}' ({report.seconds:.1f} s)")
    table.add_column("file", overflow="fold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for doc in report.documents:
        pages = f", {doc['pages']} pages" if doc.get("pages") else ""
        reused = f", {doc['vectors_reused']} vectors reused" if doc.get("vectors_reused") else ""
        table.add_row(doc["path"], "[green]ok[/]", f"{doc['chunks']} chunks{pages}{reused}")
    for path in report.skipped:
        table.add_row(path, "[yellow]skipped[/]", report.skipped_reasons.get(path, ""))
    for fail in report.failed:
        table.add_row(fail["path"], "[red]failed[/]", fail["error"])
    out.print(table)
    out.print(f"{len(report.ok)} ok, {len(report.skipped)} skipped, {len(report.failed)} failed")


@app.command("ls")
def list_documents(collection: CollectionOpt = None, as_json: JsonFlag = False, data_dir: DataDir = None) -> None:
    """List documents, with their status and size."""
    with lens_for(data_dir) as ll:
        docs = ll.documents(collection)
    if as_json:
        print(json.dumps([d.__dict__ for d in docs], indent=2))
        return
    table = Table()
    for col in ("id", "collection", "document", "type", "pages/len", "chunks", "status"):
        table.add_column(col, overflow="fold")
    for d in docs:
        extent = str(d.page_count) if d.page_count else (f"{d.duration:.0f}s" if d.duration else "")
        status = d.status if not d.error else f"{d.status}: {d.error}"
        table.add_row(str(d.id), d.collection, d.source_path, d.doc_type, extent, str(d.chunk_count), status)
    out.print(table)


@app.command("rm")
def remove(
    docs: Annotated[list[str], typer.Argument(help="Document ids, paths or file names.")],
    collection: CollectionOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Remove documents and their vectors."""
    try:
        with lens_for(data_dir) as ll:
            removed = ll.remove(docs, collection)
    except LongLensError as exc:
        _fail(str(exc))
    for d in removed:
        out.print(f"removed {d.id} {d.source_path}")


@app.command()
def collections(
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    rename: Annotated[Optional[tuple[str, str]], typer.Option(help="OLD NEW: rename a collection.")] = None,  # noqa: UP045
    delete: Annotated[Optional[str], typer.Option(help="Delete a collection and everything in it.")] = None,  # noqa: UP045
) -> None:
    """List collections (or rename / delete one)."""
    try:
        with lens_for(data_dir) as ll:
            if rename:
                ll.rename_collection(*rename)
            if delete:
                ll.delete_collection(delete)
            infos = ll.collections()
            users = Users(ll.store.engine)
            owners = {c.owner_id: users.by_id(c.owner_id) for c in infos if c.owner_id is not None}
    except LongLensError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps([c.__dict__ | {"owner": _owner_name(owners.get(c.owner_id))} for c in infos], indent=2))
        return
    table = Table()
    for col in ("collection", "owner", "documents", "chunks", "embedder"):
        table.add_column(col)
    for c in infos:
        table.add_row(c.name, _owner_name(owners.get(c.owner_id)) or "", str(c.documents), str(c.chunks), c.embedder)
    out.print(table)


def _owner_name(user: User | None) -> str | None:
    """The web user owning a collection (None: made by the CLI or the API)."""
    return user.name if user is not None else None


@app.command()
def doctor(as_json: JsonFlag = False, data_dir: DataDir = None) -> None:
    """Check that the database, the vector indexes and the keyword indexes agree; repair what can be repaired."""
    with lens_for(data_dir) as ll:
        result = ll.doctor()
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out.print(f"database: {result['database']}")
    if result["interrupted_runs"]:
        out.print(f"interrupted ingestion runs found: {result['interrupted_runs']} (run ingest again to resume)")
    for c in result["collections"]:
        state = "ok" if c["in_agreement_before"] else (
            f"repaired: +{c['vectors_added']} vectors, -{c['vectors_removed']} orphans"
            + (", index rebuilt" if c["index_rebuilt"] else "")
            + f"; +{c['keywords_added']} keyword entries, -{c['keywords_removed']} orphans"
            + (", keyword index rebuilt" if c["keyword_index_rebuilt"] else "")
        )
        out.print(f"collection {c['collection_id']}: {state}")
    out.print("[green]healthy[/]" if result["healthy"] else "[yellow]repaired[/]")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Number of results.")] = 5,
    collection: CollectionOpt = None,
    document: DocumentOpt = None,
    doc_type: TypeOpt = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or keyword.")] = "hybrid",
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Find the chunks closest to a query, with their document and page (or time range)."""
    try:
        with lens_for(data_dir) as ll:
            hits = ll.search(
                query, k=k, collection=collection, document=document, doc_type=doc_type, mode=mode  # type: ignore[arg-type]
            )
    except LongLensError as exc:
        _fail(str(exc), 2)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], indent=2))
        return
    if not hits:
        out.print("no results (is anything ingested? try `longlens ls`)")
    for rank, h in enumerate(hits, 1):
        out.print(f"[bold]{rank}. {Path(h.document).name}[/] {location(h)}  score {h.score:.3f}")
        snippet = " ".join(h.text.split())
        out.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}", markup=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    collection: CollectionOpt = None,
    document: DocumentOpt = None,
    doc_type: TypeOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Most passages to give the model.")] = 8,
    mode: Annotated[str, typer.Option(help="Retrieval: hybrid, dense or keyword.")] = "hybrid",
    rerank: Annotated[bool, typer.Option(help="Use the configured reranker.")] = True,
    reorder: Annotated[bool, typer.Option(help="Strongest passages at the start and end.")] = True,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 256,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.0,
    answer_mode: Annotated[
        str | None,
        typer.Option(help="auto (the setting's default), generate, or extract (quote the passages)."),
    ] = None,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Answer a question from your documents, streaming the answer, then its sources."""
    from longlens.answer.grounding import AnswerCheck, dropped_note
    from longlens.answer.pipeline import ANSWER_MODES, AskOptions
    from longlens.models.generation import GenerationParams
    from longlens.retrieval.selection import SelectionConfig
    from longlens.schema import Citation

    opts = AskOptions(
        max_passages=k,
        mode=mode,  # type: ignore[arg-type]
        rerank=rerank,
        selection=SelectionConfig(reorder=reorder),
        generation=GenerationParams(max_tokens=max_tokens, temperature=temperature),
        answer_mode=answer_mode,  # type: ignore[arg-type]
    )
    if answer_mode is not None and answer_mode not in ANSWER_MODES:
        _fail(f"unknown answer mode '{answer_mode}' (auto, generate or extract)", 2)
    pieces: list[str] = []
    citations: list[Citation] = []
    check = AnswerCheck()
    try:
        with lens_for(data_dir) as ll:
            events = ll.stream(question, collection=collection, document=document, doc_type=doc_type, options=opts)
            for event in events:
                if isinstance(event, Citation):
                    citations.append(event)
                    continue
                if isinstance(event, AnswerCheck):
                    check = event
                    continue
                pieces.append(event)
                if not as_json:
                    out.print(event, end="", markup=False, highlight=False, soft_wrap=True)
    except LongLensError as exc:
        _fail(str(exc), 2)
    if as_json:
        from longlens.answer.citations import clean_markers
        from longlens.schema import Answer

        answer = Answer(clean_markers("".join(pieces), 10**9), citations, len(check.dropped), check.quoted)
        print(json.dumps(answer.to_dict(), indent=2))
        return
    out.print()
    if check.dropped:
        out.print(f"[dim]{dropped_note(len(check.dropped))}[/]")
    if citations:
        out.print("\n[bold]Sources[/]")
    for c in citations:
        out.print(f"[{c.n}] {Path(c.document).name} {location(c)}", markup=False, highlight=False)
        out.print(f"    “{c.quote}”", markup=False, highlight=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
