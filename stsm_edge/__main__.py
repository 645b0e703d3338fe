import sys

from stsm_edge.app.cli import main

sys.exit(main())
