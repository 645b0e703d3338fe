import sys

from stsm_edge.cli import main

sys.exit(main())
