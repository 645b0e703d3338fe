package org.stsmedge.core;

/**
 * Benchmark mode: N frames through {@code forward(frame, *states)} with the states carried (or kept inside
 * the program), as live recognition runs it. Metric "frame_latency_ms": one step = build the inputs (quantizing where the
 * sidecar says), the backend's forward, take the outputs (dequantize, swap states). Preprocessing and
 * smoothing are not in it (the UI reports them live, per model step).
 */
public final class Benchmark {
  private Benchmark() {}

  /** Runs {@code warmup} untimed then {@code iterations} timed steps on {@code frame}; states start at zero. */
  public static BenchmarkStats run(Metadata metadata, Backend backend, float[] frame, int warmup, int iterations,
      StreamingSession.Clock clock) throws Exception {
    if (iterations < 1 || warmup < 0) {
      throw new IllegalArgumentException("need iterations >= 1 and warmup >= 0");
    }
    backend.reset();
    StateBook states = new StateBook(metadata);
    for (int i = 0; i < warmup; i++) {
      states.absorb(backend.forward(states.inputs(frame)));
    }
    double[] ms = new double[iterations];
    for (int i = 0; i < iterations; i++) {
      long start = clock.nanoTime();
      states.absorb(backend.forward(states.inputs(frame)));
      ms[i] = (clock.nanoTime() - start) / 1e6;
    }
    return BenchmarkStats.of(ms);
  }

  public static BenchmarkStats run(Metadata metadata, Backend backend, float[] frame, int warmup, int iterations)
      throws Exception {
    return run(metadata, backend, frame, warmup, iterations, System::nanoTime);
  }
}
