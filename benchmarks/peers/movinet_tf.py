"""MoViNet-A0-Stream built, exported and converted by tensorflow/models' own code; runs in the peers venv only.

    .venv-peers/bin/python benchmarks/peers/movinet_tf.py --calibration clips.npy --out DIR

This file never imports stsm_edge (the peers venv has TensorFlow, not the project): the main program
(stsm_edge.benchmarks.peers) writes the calibration clips as one .npy file and reads what this writes.

* Built with `official.projects.movinet` (tf-models-official) in the configuration its README gives for TF Lite
  streaming: A0, causal, conv_type 2plus1d, se_type 2plus3d, hard_swish, hard_sigmoid gating, no positional
  encoding, 600 classes, one 172x172 frame per call, states as signature inputs and outputs.
  Random weights: no hub is reached, and latency does not depend on them.
* Exported by `tools/export_saved_model.export_saved_model` (its stream export, bundle_input_init_states_fn off
  as the README says for TF Lite).
* fp32: TensorFlow's TFLite converter, no optimisation. int8: the settings of `tools/quantize_movinet.py`'s 'int8'
  mode (Optimize.DEFAULT, TFLITE_BUILTINS_INT8, int8 inputs and outputs), calibrated as its
  `stateful_representative_dataset_generator` does: each clip played frame by frame from zero states, states
  carried, the first frame and randomly drawn others given to the converter with the states they saw. That module
  is not imported: in the tf-models-official 2.20 wheel it fails at import (NameError: name 'tf_keras' is not
  defined; it annotates with tf_keras without importing it).

Writes movinet_a0_stream_fp32.tflite, movinet_a0_stream_int8.tflite and movinet.json (parameters, versions,
settings) into --out.
"""

import argparse
import json
from pathlib import Path

import numpy as np

SIZE = 172
CONFIG = {"model_id": "a0", "causal": True, "conv_type": "2plus1d", "se_type": "2plus3d",
          "activation": "hard_swish", "gating_activation": "hard_sigmoid", "use_positional_encoding": False,
          "num_classes": 600, "image_size": SIZE}


def build(tf_keras):
    """The classifier exactly as tools/export_saved_model.build_and_export_saved_model builds it (that function
    exports without returning the model, and calibration needs the model)."""
    from official.projects.movinet.modeling import movinet, movinet_model

    input_specs = tf_keras.layers.InputSpec(shape=(1, 1, SIZE, SIZE, 3))
    backbone = movinet.Movinet(
        model_id=CONFIG["model_id"], causal=True, use_positional_encoding=CONFIG["use_positional_encoding"],
        conv_type=CONFIG["conv_type"], se_type=CONFIG["se_type"], input_specs=input_specs,
        activation=CONFIG["activation"], gating_activation=CONFIG["gating_activation"], use_sync_bn=False,
        use_external_states=True)
    return movinet_model.MovinetClassifier(backbone, num_classes=CONFIG["num_classes"], output_states=True,
                                           input_specs=dict(image=input_specs), activation="simple_swish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=Path, required=True,
                        help=".npy of real-video clips, (clips, frames, 172, 172, 3) float32 RGB in [0, 1]")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two .tflite files and movinet.json")
    parser.add_argument("--samples-per-clip", type=int, default=8,
                        help="calibration frames drawn per clip (quantize_movinet's num_samples_per_video)")
    args = parser.parse_args()

    import tensorflow as tf
    import tf_keras
    from official.projects.movinet.tools.export_saved_model import export_saved_model

    tf_keras.utils.set_random_seed(0)
    np.random.seed(0)  # quantize_movinet draws its calibration frames with np.random
    clips = np.load(args.calibration)
    if clips.ndim != 5 or clips.shape[2:] != (SIZE, SIZE, 3):
        raise SystemExit(f"{args.calibration}: expected (clips, frames, {SIZE}, {SIZE}, 3), got {clips.shape}")
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "saved_model"
    model = build(tf_keras)
    export_saved_model(model, (1, 1, SIZE, SIZE, 3), export_path=str(saved), causal=True,
                       bundle_input_init_states_fn=False)

    fp32 = tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()
    (args.out / "movinet_a0_stream_fp32.tflite").write_bytes(fp32)

    init_states = model.init_states(tf.constant([1, 1, SIZE, SIZE, 3]))

    def representative():
        for clip in clips:
            drawn = set(np.random.randint(1, len(clip), size=args.samples_per_clip).tolist()) | {0}
            states = init_states
            for index, frame in enumerate(clip):
                image = tf.constant(frame[None, None])
                _, next_states = model({"image": image, **states})
                if index in drawn:
                    yield {"image": image, **states}
                states = next_states

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    (args.out / "movinet_a0_stream_int8.tflite").write_bytes(converter.convert())

    import official

    meta = {"config": CONFIG, "params": int(model.count_params()), "weights": "random (seed 0)",
            "calibration": {"clips": int(clips.shape[0]), "frames_per_clip": int(clips.shape[1]),
                            "samples_per_clip": args.samples_per_clip},
            "versions": {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
                         "tf-models-official": getattr(official, "__version__", "2.20.0")}}
    (args.out / "movinet.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
