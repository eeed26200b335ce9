"""The `longlens` command line (the web app's `serve` is added by longlens.ui.serve)."""
