package org.pytorch.executorch;

/** SIGNATURE STUB (host compile check only; see Module.java here). */
public abstract class Tensor {
  private Tensor() {}

  /** dtype float32. */
  public static Tensor fromBlob(float[] data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  /** dtype int8. */
  public static Tensor fromBlob(byte[] data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  /** dtype uint8. */
  public static Tensor fromBlobUnsigned(byte[] data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  public long[] shape() {
    throw new UnsupportedOperationException("stub");
  }

  public abstract DType dtype();

  public float[] getDataAsFloatArray() {
    throw new UnsupportedOperationException("stub");
  }

  public byte[] getDataAsByteArray() {
    throw new UnsupportedOperationException("stub");
  }

  public byte[] getDataAsUnsignedByteArray() {
    throw new UnsupportedOperationException("stub");
  }
}
