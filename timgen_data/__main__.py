"""``python -m timgen_data`` runs the CLI."""

from timgen_data.cli import main

main()
