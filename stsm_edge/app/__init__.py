"""The commands and user-level jobs: the CLI (thin), the demo, run/webcam, info, classify and the Android golden
vectors. The only folder of the package that may import the converters and the benchmarks."""
