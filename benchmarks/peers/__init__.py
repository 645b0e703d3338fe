"""The peers benchmark: STSM causal against MoViNet-A0-Stream, X3D-XS, TSM online and plain MobileNetV2, each
built by its own project's code, timed on LiteRT in one interleaved run (run.py; report.py renders the results)."""
