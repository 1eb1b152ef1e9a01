"""``python -m hwprune`` runs the CLI."""

from hwprune.cli import main

main()
