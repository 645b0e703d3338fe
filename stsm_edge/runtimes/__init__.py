"""One adapter per artifact format (torch, ExecuTorch, LiteRT, onnxruntime, CoreML): load with the sidecar, run
floats; `open_model` opens "default", a checkpoint or an artifact."""
