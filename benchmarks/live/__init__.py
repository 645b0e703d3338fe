"""Reaction time and streaming accuracy of the live label (`python -m stsm_edge.benchmarks.live`)."""
