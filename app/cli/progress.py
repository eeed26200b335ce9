"""Rich progress bars for ingestion: one overall bar plus one bar per file being embedded."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class RichIngestProgress:
    """Implements `IngestProgress` on a stderr console, so `--json` output on stdout stays clean."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.overall: TaskID | None = None
        self.files: dict[str, TaskID] = {}

    def __enter__(self) -> RichIngestProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def batch_started(self, total_files: int) -> None:
        self.overall = self.progress.add_task("[bold]all files", total=total_files)

    def file_started(self, path: str, chunks: int, pages: int | None = None) -> None:
        where = f", {pages:,} pages" if pages else ""
        self.files[path] = self.progress.add_task(f"  {Path(path).name} (chunks embedded{where})",
                                                  total=max(chunks, 1))

    def file_advanced(self, path: str, chunks: int) -> None:
        if path in self.files:
            self.progress.advance(self.files[path], chunks)

    def file_finished(self, path: str, status: str, detail: str) -> None:
        task = self.files.pop(path, None)
        if task is not None:
            self.progress.remove_task(task)
        if self.overall is not None:
            self.progress.advance(self.overall, 1)
        colour = {"ok": "green", "skipped": "yellow", "failed": "red"}.get(status, "white")
        self.console.print(f"[{colour}]{status:>7}[/] {path}  [dim]{detail}[/]", highlight=False)
