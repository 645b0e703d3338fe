package org.stsmedge.core;

/**
 * What runs the model: the app plugs ExecuTorch in ({@code ExecuTorchBackend}), tests plug fakes in.
 *
 * <p>{@code forward} takes the inputs in sidecar order ({@code frame, state_0, ..., state_n}) and
 * returns the outputs in sidecar order ({@code logits, new_state_0, ..., new_state_n}); a program that
 * keeps its states inside ({@link Metadata#statesInside}) takes {@code frame} and returns {@code logits}.
 * Each tensor is float32, or int8/uint8 where the sidecar gives that input a quantization.
 */
public interface Backend extends AutoCloseable {
  TensorData[] forward(TensorData[] inputs) throws Exception;

  /**
   * Start a new stream. A program that keeps its states inside forgets them here; explicit states are the
   * session's ({@link StateBook}), so a backend for those has nothing to do.
   */
  default void reset() throws Exception {}

  /** A short description for the UI and the benchmark JSON, e.g. "executorch (4 threads)". */
  default String describe() {
    return getClass().getSimpleName();
  }

  @Override
  default void close() {}
}
