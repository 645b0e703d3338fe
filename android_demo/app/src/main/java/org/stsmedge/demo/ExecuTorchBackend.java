package org.stsmedge.demo;

import org.pytorch.executorch.DType;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;
import org.stsmedge.core.Backend;
import org.stsmedge.core.TensorData;

/**
 * The core's {@link Backend} on ExecuTorch's Android library (org.pytorch:executorch-android):
 * {@code Module.load(path, LOAD_MODE_MMAP, threads)}, then per frame {@code module.forward(EValue...)}
 * with one {@code EValue.from(Tensor.fromBlob(...))} per sidecar input, and the outputs read back with
 * {@code toTensor().getDataAsFloatArray()} (or the int8 / uint8 getters).
 *
 * <p>A program that keeps its streaming states inside (sidecar "state": "internal") holds them in
 * mutable buffers that loading its method sets to zeros. {@link #reset()} starts a new stream by loading
 * the program again: {@code Module} has no unload, and it gives every method its own memory, so a
 * separate "reset" method in the program would zero its own copy of the states, not forward's.
 *
 * <p>No Android imports on purpose: run_host_tests.sh compiles this file against signature stubs of
 * the pinned ExecuTorch API, so a call that the library does not have fails on the host too.
 */
public final class ExecuTorchBackend implements Backend {
  private final String ptePath;
  private final int threads;
  private final boolean statesInside;
  private Module module;
  private boolean fresh; // no frame has run since the program was loaded: its internal states are zeros

  /**
   * @param ptePath absolute path of the .pte file (assets must be copied to a file first)
   * @param threads XNNPACK threads; 0 lets ExecuTorch pick a hardware default
   * @param statesInside the sidecar's {@code Metadata.statesInside}: the program keeps its states itself
   */
  public ExecuTorchBackend(String ptePath, int threads, boolean statesInside) {
    this.ptePath = ptePath;
    this.threads = threads;
    this.statesInside = statesInside;
    this.module = load();
  }

  /** A freshly loaded program; sets {@code fresh} only once it has loaded, so a failed load changes nothing. */
  private Module load() {
    Module loaded = Module.load(ptePath, Module.LOAD_MODE_MMAP, threads);
    try {
      loaded.loadMethod("forward"); // load now, not on the first camera frame
    } catch (RuntimeException e) {
      loaded.destroy();
      throw e;
    }
    fresh = true;
    return loaded;
  }

  /**
   * Loads the program again before destroying the old one: if loading throws (out of memory, a file gone),
   * the backend keeps its working module, mid-stream as before, and a later reset can try again. Destroying
   * first would leave it holding a destroyed module that the next forward or close would use.
   */
  @Override
  public void reset() {
    if (statesInside && !fresh) {
      Module reloaded = load();
      module.destroy();
      module = reloaded;
    }
  }

  @Override
  public TensorData[] forward(TensorData[] inputs) {
    EValue[] args = new EValue[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      args[i] = EValue.from(toExecuTorch(inputs[i]));
    }
    EValue[] results = module.forward(args);
    fresh = false;
    if (results == null || results.length == 0) {
      throw new IllegalStateException("ExecuTorch forward returned nothing (module destroyed or failed to run)");
    }
    TensorData[] outputs = new TensorData[results.length];
    for (int i = 0; i < results.length; i++) {
      if (!results[i].isTensor()) {
        throw new IllegalStateException("ExecuTorch output " + i + " is not a tensor");
      }
      outputs[i] = fromExecuTorch(results[i].toTensor());
    }
    return outputs;
  }

  static Tensor toExecuTorch(TensorData t) {
    switch (t.kind) {
      case FLOAT32:
        return Tensor.fromBlob(t.floats(), t.shape);
      case INT8:
        return Tensor.fromBlob(t.bytes(), t.shape);
      case UINT8:
        return Tensor.fromBlobUnsigned(t.bytes(), t.shape);
      default:
        throw new IllegalArgumentException("unsupported tensor kind " + t.kind);
    }
  }

  static TensorData fromExecuTorch(Tensor t) {
    DType dtype = t.dtype();
    long[] shape = t.shape();
    switch (dtype) {
      case FLOAT:
        return TensorData.ofFloats(shape, t.getDataAsFloatArray());
      case INT8:
        return TensorData.ofInt8(shape, t.getDataAsByteArray());
      case UINT8:
        return TensorData.ofUint8(shape, t.getDataAsUnsignedByteArray());
      default:
        throw new IllegalStateException("ExecuTorch output of dtype " + dtype + " is not float32/int8/uint8");
    }
  }

  public int threads() {
    return threads;
  }

  @Override
  public String describe() {
    return "executorch (" + (threads == 0 ? "default" : Integer.toString(threads)) + " threads)";
  }

  @Override
  public void close() {
    module.destroy();
  }
}
