"""``python -m dlteach``: the same command line as ``dlteach``."""

from dlteach.cli import main

raise SystemExit(main())
