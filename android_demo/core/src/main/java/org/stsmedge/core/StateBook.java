package org.stsmedge.core;

import java.util.Arrays;
import java.util.List;

/**
 * The streaming states of a stream artifact, carried from one frame to the next, exactly as
 * {@code FrameBufferRunner._stream} carries them: zeros at the start and after {@link #reset()},
 * {@code [frame, *states]} in, {@code [logits, *new_states]} out, the new states become the next
 * frame's states. Shapes come from the sidecar's inputs[1:] (in the artifact's own layout, which the book never
 * reads: a state is a flat array it hands back): none for a program that keeps its states inside, whose book then
 * holds only the frame in and the logits out.
 *
 * <p>A state the sidecar carries as integers ({@link Metadata#carried}: its input quantized exactly like its output,
 * LiteRT's int8 streams) is kept as the raw 8-bit values the model returned and handed back untouched, starting at
 * the zero point; no float and no requantizing between frames. Any other state is kept as float32 (like the Python
 * runtimes' dequantized arrays) and quantized on the way in where the sidecar says so, so a state whose output and
 * input scales differ is requantized correctly.
 */
public final class StateBook {
  private final Metadata metadata;
  private final List<TensorSpec> inputsSpec;
  private final List<TensorSpec> outputsSpec;
  private final boolean[] carried;
  private float[][] states; // float-carried states (null where carried as integers)
  private float[][] spare; // the previous step's arrays, reused (swap, no per-frame allocation)
  private byte[][] raw; // integer-carried states (null where carried as float)
  private byte[][] rawSpare;
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
    carried = new boolean[n];
    states = new float[n][];
    spare = new float[n][];
    raw = new byte[n][];
    rawSpare = new byte[n][];
    for (int i = 0; i < n; i++) {
      int numel = metadata.stateInputs().get(i).numel();
      carried[i] = metadata.carried(i);
      if (carried[i]) {
        raw[i] = new byte[numel];
        rawSpare[i] = new byte[numel];
      } else {
        states[i] = new float[numel];
        spare[i] = new float[numel];
      }
    }
    reset();
  }

  public int count() {
    return carried.length;
  }

  /** Frames stepped since the last reset. */
  public long steps() {
    return steps;
  }

  /** Whether state {@code i} is kept as the artifact's raw integers. */
  public boolean carried(int i) {
    return carried[i];
  }

  /** Zero states, as at the first frame: 0.0, or a carried state's zero point. */
  public void reset() {
    for (int i = 0; i < carried.length; i++) {
      if (carried[i]) {
        Arrays.fill(raw[i], inputsSpec.get(i + 1).quantization.zero());
      } else {
        Arrays.fill(states[i], 0.0f);
      }
    }
    steps = 0;
  }

  /** The current state {@code i} as float32 values (a carried state dequantized into a new array; else the array
   * itself: read only). */
  public float[] state(int i) {
    return carried[i] ? inputsSpec.get(i + 1).quantization.dequantize(raw[i]) : states[i];
  }

  /** The current raw 8-bit values of a carried state {@code i} (the array itself: read only). */
  public byte[] rawState(int i) {
    if (!carried[i]) {
      throw new IllegalStateException(inputsSpec.get(i + 1).name + " is carried as float32, not as integers");
    }
    return raw[i];
  }

  /** {@code [frame, *states]}, each as the sidecar's input spec wants it (float32 or quantized). */
  public TensorData[] inputs(float[] frame) {
    TensorData[] in = new TensorData[carried.length + 1];
    in[0] = encode(inputsSpec.get(0), frame);
    for (int i = 0; i < carried.length; i++) {
      TensorSpec spec = inputsSpec.get(i + 1);
      in[i + 1] = carried[i] ? raw(spec, raw[i]) : encode(spec, states[i]);
    }
    return in;
  }

  /** Takes {@code [logits, *new_states]}: the new states replace the old ones; returns the logits as float32. */
  public float[] absorb(TensorData[] outputs) {
    if (outputs == null || outputs.length != carried.length + 1) {
      throw new IllegalStateException(metadata.artifact + ": the model returned "
          + (outputs == null ? 0 : outputs.length) + " outputs, the sidecar lists " + (carried.length + 1));
    }
    float[] logits = decode(outputsSpec.get(0), outputs[0], null);
    for (int i = 0; i < carried.length; i++) {
      if (carried[i]) {
        // Copied, not kept: a backend may reuse its output buffers at the next call.
        byte[] next = rawSpare[i];
        System.arraycopy(integers(outputsSpec.get(i + 1), outputs[i + 1]), 0, next, 0, next.length);
        rawSpare[i] = raw[i];
        raw[i] = next;
      } else {
        float[] next = decode(outputsSpec.get(i + 1), outputs[i + 1], spare[i]);
        spare[i] = states[i];
        states[i] = next;
      }
    }
    steps++;
    return logits;
  }

  private static TensorData raw(TensorSpec spec, byte[] values) {
    return spec.quantization.isUnsigned() ? TensorData.ofUint8(spec.shape, values) : TensorData.ofInt8(spec.shape, values);
  }

  /** A carried state's output as the artifact wrote it: its 8-bit values, of the sidecar's type and size. */
  static byte[] integers(TensorSpec spec, TensorData tensor) {
    TensorData.Kind want = spec.quantization.isUnsigned() ? TensorData.Kind.UINT8 : TensorData.Kind.INT8;
    if (tensor.kind != want || tensor.numel() != spec.numel()) {
      throw new IllegalStateException(spec.name + ": the model returned " + tensor.numel() + " " + tensor.kind
          + " values, the sidecar carries " + spec.numel() + " " + want);
    }
    return tensor.bytes();
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
    return raw(spec, q.quantize(values));
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
