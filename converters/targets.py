"""The export targets and precisions by name: torch-free, so the command line can offer them without loading a
converter (base.py's registry imports each target's module on demand)."""

TARGETS = ("executorch", "coreml", "tflite", "onnx")
PRECISIONS = ("fp32", "fp16", "int8", "int8w")  # the union of the targets' `precisions`
