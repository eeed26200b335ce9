"""`python -m longlens.cli`: the command line without the web app's `serve`."""

from longlens.cli.commands import main

main()
