"""``python -m cfcore``: the command line (``cfcore.cli``)."""

import sys

from .cli import main

sys.exit(main())
