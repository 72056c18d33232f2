"""``python -m sim.interfaces.cli``: the ``gsim`` command line."""

import sys

from sim.interfaces.cli import main

sys.exit(main())
