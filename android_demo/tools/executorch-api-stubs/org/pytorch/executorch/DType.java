package org.pytorch.executorch;

/** SIGNATURE STUB (host compile check only; see Module.java here). The real enum has more members. */
public enum DType {
  UINT8,
  INT8,
  FLOAT,
}
