"""``python -m draftfinder`` runs the CLI."""

from draftfinder.cli.main import main

raise SystemExit(main())
