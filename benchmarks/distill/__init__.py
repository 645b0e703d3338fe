"""Distillation on the motion benchmark: bidirectional teachers into causal students, measured (`python -m stsm_edge.benchmarks.distill.run`)."""
