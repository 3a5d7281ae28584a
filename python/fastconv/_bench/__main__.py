"""``python -m fastconv._bench``: same as ``python -m fastconv bench``."""

from . import main

raise SystemExit(main())
