"""``python -m yibao`` is the same as the ``yibao`` command."""

from yibao.cli import main

raise SystemExit(main())
