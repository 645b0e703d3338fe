"""Latency benchmarks for stsm-edge artifacts: harness, results schema, report, Android driver.

`python -m benchmarks run` (also `stsm-edge bench`) and `python -m benchmarks report`; see benchmarks/README.md.
"""
