"""On-device latency through adb: the stock runners (`executor_runner`, `benchmark_model`) and the demo app."""
