"""``python -m cfcore.cli``: the same command line as ``python -m cfcore``."""

import sys

from . import main

sys.exit(main())
