"""``python -m reglab.cli``."""

import sys

from . import main

sys.exit(main())
