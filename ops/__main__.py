"""`python -m ops` is the `ops` command."""

from ops.cli.main import main

main()
