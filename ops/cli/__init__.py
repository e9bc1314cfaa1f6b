"""The `ops` command line: Typer commands that parse, call a phase or adapter, and render."""
