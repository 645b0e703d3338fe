"""`python -m stsm_edge.benchmarks.peers`: the peers benchmark (run.py)."""

from stsm_edge.benchmarks.peers.run import main

main()
