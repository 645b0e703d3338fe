"""Live accuracy at camera frame rates (`python -m benchmarks.time_step.run`)."""
