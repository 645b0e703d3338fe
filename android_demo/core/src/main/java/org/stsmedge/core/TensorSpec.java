package org.stsmedge.core;

import java.util.Arrays;

/** One entry of the sidecar's inputs / outputs / states: name, shape, dtype and (optional) quantization. */
public final class TensorSpec {
  public final String name;
  public final long[] shape;
  public final String dtype;
  public final Quantization quantization; // null when the tensor is float32

  public TensorSpec(String name, long[] shape, String dtype, Quantization quantization) {
    this.name = name;
    this.shape = shape.clone();
    this.dtype = dtype;
    this.quantization = quantization;
  }

  public int numel() {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new MetadataException(name + ": negative dimension in " + Arrays.toString(shape));
      }
      n *= d;
    }
    if (n > Integer.MAX_VALUE) {
      throw new MetadataException(name + ": too many elements " + n);
    }
    return (int) n;
  }

  public boolean isQuantized() {
    return quantization != null;
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape) + ":" + dtype + (quantization == null ? "" : " " + quantization);
  }
}
