"""`longlens serve`, and the console script's entry point: the CLI of app/ with the web app's command added.

The command lives here, not in app/cli/, so that imports keep pointing one way (ui -> app): the CLI never
imports the UI, and `longlens --help` stays fast because gradio loads only when `serve` runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from longlens.cli.commands import DataDir, app, lens_for
from longlens.cli.commands import main as cli_main


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 7860,
    share: Annotated[bool, typer.Option("--share/--no-share", help="Open a public Gradio share link.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Serve the web app (login is on when LONGLENS_USERS_FILE names a users file)."""
    from longlens.ui.app import launch_app
    from longlens.ui.auth import read_users_file

    users, admins = read_users_file() or (None, None)
    launch_app(lens_for(data_dir), host=host, port=port, share=share, users=users, admins=admins)


def main() -> None:
    cli_main()


if __name__ == "__main__":
    main()
