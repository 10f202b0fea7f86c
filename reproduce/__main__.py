"""``python -m reproduce``."""

from reproduce.cli import main

raise SystemExit(main())
