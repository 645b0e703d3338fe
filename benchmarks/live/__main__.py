import sys

from stsm_edge.benchmarks.live.run import main

sys.exit(main())
