package org.stsmedge.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A fake model for the state bookkeeping tests. Call t returns new states stamped with t (every
 * element a function of t, the state's position and the element's), and checks that the states it
 * receives are exactly what it returned at call t - 1 (after the sidecar's dequantize/requantize
 * round trip), or zeros at the first call and after {@link #expectZeros()}. Logits come from a given
 * sequence (row t) or are zero.
 */
final class EchoBackend implements Backend {
  final Metadata metadata;
  final float[][] logitRows;
  final List<String> violations = new ArrayList<>();
  final List<TensorData[]> received = new ArrayList<>();
  final List<TensorData[]> returned = new ArrayList<>();
  int calls;
  boolean closed;
  private boolean zerosExpected = true;
  private TensorData[] expectedNext;

  EchoBackend(Metadata metadata) {
    this(metadata, null);
  }

  EchoBackend(Metadata metadata, float[][] logitRows) {
    this.metadata = metadata;
    this.logitRows = logitRows;
  }

  /** The next call must receive zero states (the session was reset). */
  void expectZeros() {
    zerosExpected = true;
  }

  static float stamp(int call, int state, int element) {
    return (call + 1) * 0.001f * (1 + element % 5) * (state % 2 == 0 ? 1 : -1);
  }

  static boolean sameContents(TensorData a, TensorData b) {
    if (a.kind != b.kind || !Arrays.equals(a.shape, b.shape)) {
      return false;
    }
    return a.isFloat() ? Arrays.equals(a.floats(), b.floats()) : Arrays.equals(a.bytes(), b.bytes());
  }

  static TensorData copy(TensorData t) {
    switch (t.kind) {
      case FLOAT32: return TensorData.ofFloats(t.shape, t.floats().clone());
      case INT8: return TensorData.ofInt8(t.shape, t.bytes().clone());
      default: return TensorData.ofUint8(t.shape, t.bytes().clone());
    }
  }

  @Override
  public TensorData[] forward(TensorData[] inputs) {
    int n = metadata.inputs.size();
    if (inputs.length != n) {
      violations.add("call " + calls + ": " + inputs.length + " inputs, expected " + n);
      throw new IllegalArgumentException("wrong input count");
    }
    TensorData[] copies = new TensorData[n];
    for (int i = 0; i < n; i++) {
      copies[i] = copy(inputs[i]);
    }
    received.add(copies);
    for (int i = 1; i < n; i++) {
      TensorSpec spec = metadata.inputs.get(i);
      TensorData expected = zerosExpected ? StateBook.encode(spec, new float[spec.numel()]) : expectedNext[i];
      if (!sameContents(expected, inputs[i])) {
        violations.add("call " + calls + ": state " + spec.name + " is not what call " + (calls - 1) + " returned"
            + (zerosExpected ? " (expected zeros)" : ""));
      }
    }
    zerosExpected = false;
    TensorData[] out = new TensorData[n];
    TensorSpec logitsSpec = metadata.outputs.get(0);
    float[] logits = logitRows == null ? new float[logitsSpec.numel()] : logitRows[calls % logitRows.length].clone();
    out[0] = StateBook.encode(logitsSpec, logits);
    expectedNext = new TensorData[n];
    for (int i = 1; i < n; i++) {
      TensorSpec outSpec = metadata.outputs.get(i);
      float[] values = new float[outSpec.numel()];
      for (int j = 0; j < values.length; j++) {
        values[j] = stamp(calls, i, j);
      }
      out[i] = StateBook.encode(outSpec, values);
      expectedNext[i] = StateBook.encode(metadata.inputs.get(i), StateBook.decode(outSpec, out[i], null));
    }
    TensorData[] outCopies = new TensorData[n];
    for (int i = 0; i < n; i++) {
      outCopies[i] = copy(out[i]);
    }
    returned.add(outCopies);
    calls++;
    return out;
  }

  @Override
  public void close() {
    closed = true;
  }
}
