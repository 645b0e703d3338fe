"""Live accuracy at camera frame rates (`python -m stsm_edge.benchmarks.time_step.run`)."""
