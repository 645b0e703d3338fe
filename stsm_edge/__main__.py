"""`python -m stsm_edge` (and torchrun's `-m stsm_edge train`): the CLI."""

import sys

from stsm_edge.app.cli import main

sys.exit(main())
