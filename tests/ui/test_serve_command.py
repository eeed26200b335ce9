"""`longlens serve` comes from the UI package, on the same CLI as every other command (the console script's
entry point), while app/'s CLI alone never loads the UI."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from typer.testing import CliRunner


def test_the_console_script_has_serve_and_every_other_command():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "longlens"]
    assert script.value == "longlens.ui.serve:main"
    out = CliRunner().invoke(script.load().__globals__["app"], ["--help"]).stdout
    for command in ("serve", "ingest", "ask", "search", "doctor"):
        assert command in out
    assert "--port" in CliRunner().invoke(script.load().__globals__["app"], ["serve", "--help"]).stdout


def test_the_cli_of_app_loads_no_ui_module():
    code = "import sys, longlens.cli.commands; print(sorted(m for m in sys.modules if m.startswith('longlens.ui')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
