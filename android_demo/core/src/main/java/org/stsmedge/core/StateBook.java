package org.stsmedge.core;

import java.util.Arrays;
import java.util.List;

/**
 * The streaming states of a stream artifact, carried from one frame to the next, exactly as
 * {@code FrameBufferRunner._stream} carries them: zeros at the start and after {@link #reset()},
 * {@code [frame, *states]} in, {@code [logits, *new_states]} out, the new states become the next
 * frame's states. Shapes come from the sidecar's inputs[1:]: none for a program that keeps its states
 * inside, whose book then holds only the frame in and the logits out. States are kept as float32 (like the
 * Python runtimes' dequantized arrays) and quantized on the way in where the sidecar says so, so a
 * state whose output and input scales differ is requantized correctly.
 */
public final class StateBook {
  private final Metadata metadata;
  private final List<TensorSpec> inputsSpec;
  private final List<TensorSpec> outputsSpec;
  private float[][] states;
  private float[][] spare; // the previous step's arrays, reused (swap, no per-frame allocation)
  private long steps;

  public StateBook(Metadata metadata) {
    if (!metadata.isStream()) {
      throw new MetadataException(metadata.artifact + ": form '" + metadata.form
          + "' has no streaming states; this runner takes stream artifacts");
    }
    this.metadata = metadata;
    this.inputsSpec = metadata.inputs;
    this.outputsSpec = metadata.outputs;
    int n = metadata.stateInputs().size();
    states = new float[n][];
    spare = new float[n][];
    for (int i = 0; i < n; i++) {
      states[i] = new float[metadata.stateInputs().get(i).numel()];
      spare[i] = new float[states[i].length];
    }
  }

  public int count() {
    return states.length;
  }

  /** Frames stepped since the last reset. */
  public long steps() {
    return steps;
  }

  /** Zero states, as at the first frame. */
  public void reset() {
    for (float[] state : states) {
      Arrays.fill(state, 0.0f);
    }
    steps = 0;
  }

  /** The current state {@code i} (float32, the array itself: read only). */
  public float[] state(int i) {
    return states[i];
  }

  /** {@code [frame, *states]}, each as the sidecar's input spec wants it (float32 or quantized). */
  public TensorData[] inputs(float[] frame) {
    TensorData[] in = new TensorData[states.length + 1];
    in[0] = encode(inputsSpec.get(0), frame);
    for (int i = 0; i < states.length; i++) {
      in[i + 1] = encode(inputsSpec.get(i + 1), states[i]);
    }
    return in;
  }

  /** Takes {@code [logits, *new_states]}: the new states replace the old ones; returns the logits as float32. */
  public float[] absorb(TensorData[] outputs) {
    if (outputs == null || outputs.length != states.length + 1) {
      throw new IllegalStateException(metadata.artifact + ": the model returned "
          + (outputs == null ? 0 : outputs.length) + " outputs, the sidecar lists " + (states.length + 1));
    }
    float[] logits = decode(outputsSpec.get(0), outputs[0], null);
    for (int i = 0; i < states.length; i++) {
      float[] next = decode(outputsSpec.get(i + 1), outputs[i + 1], spare[i]);
      spare[i] = states[i];
      states[i] = next;
    }
    steps++;
    return logits;
  }

  static TensorData encode(TensorSpec spec, float[] values) {
    if (values.length != spec.numel()) {
      throw new IllegalArgumentException(spec.name + ": " + values.length + " values for shape "
          + Arrays.toString(spec.shape));
    }
    Quantization q = spec.quantization;
    if (q == null) {
      return TensorData.ofFloats(spec.shape, values);
    }
    byte[] bytes = q.quantize(values);
    return q.isUnsigned() ? TensorData.ofUint8(spec.shape, bytes) : TensorData.ofInt8(spec.shape, bytes);
  }

  static float[] decode(TensorSpec spec, TensorData tensor, float[] into) {
    if (tensor.numel() != spec.numel()) {
      throw new IllegalStateException(spec.name + ": the model returned " + tensor.numel()
          + " values, the sidecar's shape " + Arrays.toString(spec.shape) + " has " + spec.numel());
    }
    float[] out = into != null && into.length == spec.numel() ? into : new float[spec.numel()];
    if (tensor.isFloat()) {
      if (spec.quantization != null) {
        throw new IllegalStateException(spec.name + ": the sidecar says int8 but the model returned float32");
      }
      System.arraycopy(tensor.floats(), 0, out, 0, out.length);
    } else {
      if (spec.quantization == null) {
        throw new IllegalStateException(spec.name + ": the model returned " + tensor.kind
            + " but the sidecar gives no quantization for it");
      }
      spec.quantization.dequantize(tensor.bytes(), out);
    }
    return out;
  }
}
