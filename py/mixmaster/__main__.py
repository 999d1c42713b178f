"""``python -m mixmaster``: the command line of :mod:`mixmaster.cli`."""

from mixmaster.cli import main

raise SystemExit(main())
