"""``python -m fieldrig``: the command line (same as the ``fieldrig`` command)."""

import sys

from fieldrig.cli import main

sys.exit(main())
