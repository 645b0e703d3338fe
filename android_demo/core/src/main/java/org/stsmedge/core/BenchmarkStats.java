package org.stsmedge.core;

/** Latency summary of a benchmark run, with NumPy's definitions (linear percentiles, pairwise mean). */
public final class BenchmarkStats {
  public final int iterations;
  public final double p50;
  public final double p90;
  public final double p99;
  public final double mean;
  public final double min;
  public final double max;

  private BenchmarkStats(double[] ms) {
    iterations = ms.length;
    p50 = NumpyMath.percentile(ms, 50);
    p90 = NumpyMath.percentile(ms, 90);
    p99 = NumpyMath.percentile(ms, 99);
    mean = NumpyMath.mean(ms);
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double v : ms) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    min = lo;
    max = hi;
  }

  /** From per-iteration latencies in milliseconds (warmup excluded). */
  public static BenchmarkStats of(double[] latenciesMs) {
    if (latenciesMs.length == 0) {
      throw new IllegalArgumentException("no timed iterations");
    }
    return new BenchmarkStats(latenciesMs.clone());
  }
}
