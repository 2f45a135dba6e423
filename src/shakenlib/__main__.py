"""``python -m shakenlib``: the command line."""

from shakenlib.cli import main

raise SystemExit(main())
