"""`python -m stsm_edge.benchmarks.live`: the live label benchmark (run.py)."""

import sys

from stsm_edge.benchmarks.live.run import main

sys.exit(main())
