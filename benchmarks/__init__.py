"""Latency benchmarks for stsm-edge artifacts: harness, results schema, report, Android driver.

`python -m stsm_edge.benchmarks run` (also `stsm-edge bench`) and `python -m stsm_edge.benchmarks report`; see benchmarks/README.md.
"""
