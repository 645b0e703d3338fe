package org.stsmedge.core;

import java.util.Arrays;

/**
 * A tensor as the core hands it to a {@link Backend} and gets it back: a shape and either float32
 * values or raw 8-bit values (int8, or uint8 bits). The app's ExecuTorch backend maps these one to
 * one onto {@code org.pytorch.executorch.Tensor.fromBlob(float[] | byte[], long[])}.
 */
public final class TensorData {
  public enum Kind { FLOAT32, INT8, UINT8 }

  public final Kind kind;
  public final long[] shape;
  private final float[] floats;
  private final byte[] bytes;

  private TensorData(Kind kind, long[] shape, float[] floats, byte[] bytes) {
    this.kind = kind;
    this.shape = shape.clone();
    this.floats = floats;
    this.bytes = bytes;
    long n = numel(shape);
    int have = floats != null ? floats.length : bytes.length;
    if (n != have) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got " + have);
    }
  }

  public static TensorData ofFloats(long[] shape, float[] data) {
    return new TensorData(Kind.FLOAT32, shape, data, null);
  }

  public static TensorData ofInt8(long[] shape, byte[] data) {
    return new TensorData(Kind.INT8, shape, null, data);
  }

  public static TensorData ofUint8(long[] shape, byte[] data) {
    return new TensorData(Kind.UINT8, shape, null, data);
  }

  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  public int numel() {
    return floats != null ? floats.length : bytes.length;
  }

  public boolean isFloat() {
    return kind == Kind.FLOAT32;
  }

  /** The float32 values (not a copy); only for FLOAT32 tensors. */
  public float[] floats() {
    if (floats == null) {
      throw new IllegalStateException("tensor of " + kind + " holds no float32 values");
    }
    return floats;
  }

  /** The raw 8-bit values (not a copy); only for INT8 / UINT8 tensors. */
  public byte[] bytes() {
    if (bytes == null) {
      throw new IllegalStateException("tensor of " + kind + " holds no 8-bit values");
    }
    return bytes;
  }

  @Override
  public String toString() {
    return kind + Arrays.toString(shape);
  }
}
