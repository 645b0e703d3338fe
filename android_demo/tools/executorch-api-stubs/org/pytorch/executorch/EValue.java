package org.pytorch.executorch;

/** SIGNATURE STUB (host compile check only; see Module.java here). */
public class EValue {
  private EValue() {}

  public static EValue from(Tensor tensor) {
    throw new UnsupportedOperationException("stub");
  }

  public boolean isTensor() {
    throw new UnsupportedOperationException("stub");
  }

  public Tensor toTensor() {
    throw new UnsupportedOperationException("stub");
  }
}
