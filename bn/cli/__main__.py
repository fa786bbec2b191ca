"""``python -m bn.cli``: the same as ``bn``."""

import sys

from bn.cli import main

sys.exit(main())
