package org.stsmedge.core;

/**
 * Affine int8/uint8 quantization of one I/O tensor, as the sidecar's {@code quantization} entry
 * gives it. The arithmetic mirrors {@code stsm_edge.runtimes.base.quantize / dequantize} under
 * NumPy 2's rules: the scale is used as a float32, {@code round} is half-to-even.
 */
public final class Quantization {
  public final double scale;
  public final int zeroPoint;
  public final String dtype; // "int8" or "uint8"
  private final float scaleF;
  private final int min;
  private final int max;

  public Quantization(double scale, int zeroPoint, String dtype) {
    if (!(scale > 0) || Double.isInfinite(scale)) {
      throw new MetadataException("quantization scale must be positive, got " + scale);
    }
    if ("int8".equals(dtype)) {
      min = -128;
      max = 127;
    } else if ("uint8".equals(dtype)) {
      min = 0;
      max = 255;
    } else {
      throw new MetadataException("quantization dtype must be int8 or uint8, got " + dtype);
    }
    if (zeroPoint < min || zeroPoint > max) {
      throw new MetadataException("zero point " + zeroPoint + " is outside " + dtype);
    }
    this.scale = scale;
    this.zeroPoint = zeroPoint;
    this.dtype = dtype;
    this.scaleF = (float) scale;
  }

  public boolean isUnsigned() {
    return min == 0;
  }

  /** {@code clip(round(x / scale) + zero_point)} into {@code out} (bytes hold the raw int8/uint8 bits). */
  public void quantize(float[] x, byte[] out) {
    if (out.length != x.length) {
      throw new IllegalArgumentException("quantize: " + x.length + " values into " + out.length + " bytes");
    }
    final float zp = zeroPoint;
    for (int i = 0; i < x.length; i++) {
      float q = (float) Math.rint(x[i] / scaleF) + zp;
      if (q < min) {
        q = min;
      } else if (q > max) {
        q = max;
      } else if (q != q) { // NaN: NumPy's cast is undefined; pin it to the zero point
        q = zeroPoint;
      }
      out[i] = (byte) (int) q;
    }
  }

  public byte[] quantize(float[] x) {
    byte[] out = new byte[x.length];
    quantize(x, out);
    return out;
  }

  /** {@code (q - zero_point) * scale} in float32. */
  public void dequantize(byte[] q, float[] out) {
    if (out.length != q.length) {
      throw new IllegalArgumentException("dequantize: " + q.length + " bytes into " + out.length + " values");
    }
    final float zp = zeroPoint;
    final boolean unsigned = isUnsigned();
    for (int i = 0; i < q.length; i++) {
      float v = unsigned ? (q[i] & 0xff) : q[i];
      out[i] = (v - zp) * scaleF;
    }
  }

  public float[] dequantize(byte[] q) {
    float[] out = new float[q.length];
    dequantize(q, out);
    return out;
  }

  /** The same parameters: values written with one read back exactly with the other. */
  @Override
  public boolean equals(Object other) {
    if (!(other instanceof Quantization)) {
      return false;
    }
    Quantization q = (Quantization) other;
    return scale == q.scale && zeroPoint == q.zeroPoint && dtype.equals(q.dtype);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(scale, zeroPoint, dtype);
  }

  /** The raw 8-bit value that dequantizes to 0.0: a carried state's start. */
  public byte zero() {
    return (byte) zeroPoint;
  }

  @Override
  public String toString() {
    return dtype + "(scale=" + scale + ", zero_point=" + zeroPoint + ")";
  }
}
