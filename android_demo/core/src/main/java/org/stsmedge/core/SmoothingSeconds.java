package org.stsmedge.core;

import java.util.Map;
import java.util.Optional;

/**
 * Mirror of {@code stsm_edge.smoothing.SmoothingSeconds}: smoothing in seconds of history, turned into model steps
 * with the model's time step (the nearest whole number of steps, at least one; ties to even, as Python's round).
 */
public final class SmoothingSeconds {
  /** Python's {@code RECOMMENDED}: the live benchmark's choice for the default model (benchmarks/live). */
  public static final SmoothingSeconds RECOMMENDED = new SmoothingSeconds(0.67, 0.0, 0.0, 0.0, 0.5);

  public final double smoothS;
  public final double minHoldS;
  public final double voteS;
  public final double threshold;
  public final double margin;

  public SmoothingSeconds(double smoothS, double minHoldS, double voteS, double threshold, double margin) {
    if (!(smoothS >= 0 && minHoldS >= 0 && voteS >= 0)) {
      throw new IllegalArgumentException("smooth_s, min_hold_s and vote_s must be >= 0");
    }
    this.smoothS = smoothS;
    this.minHoldS = minHoldS;
    this.voteS = voteS;
    this.threshold = threshold;
    this.margin = margin;
  }

  static int steps(double seconds, double stepSeconds) {
    return Math.max(1, (int) Math.rint(seconds / stepSeconds));
  }

  public SmoothingConfig steps(double stepSeconds) {
    return new SmoothingConfig(steps(smoothS, stepSeconds), steps(voteS, stepSeconds), steps(minHoldS, stepSeconds),
        threshold, margin);
  }

  /** The sidecar's optional "smoothing" object; empty when absent (sidecars from before it). */
  static Optional<SmoothingSeconds> fromSidecar(Object value, String source) {
    if (value == null) {
      return Optional.empty();
    }
    if (!(value instanceof Map)) {
      throw new MetadataException(source + ": 'smoothing' must be an object");
    }
    Map<?, ?> data = (Map<?, ?>) value;
    try {
      return Optional.of(new SmoothingSeconds(number(data, "smooth_s", null, source),
          number(data, "min_hold_s", null, source), number(data, "vote_s", 0.0, source),
          number(data, "threshold", 0.0, source), number(data, "margin", 0.0, source)));
    } catch (IllegalArgumentException exc) {
      throw new MetadataException(source + ": 'smoothing': " + exc.getMessage());
    }
  }

  private static double number(Map<?, ?> data, String key, Double fallback, String source) {
    Object value = data.get(key);
    if (value == null && fallback != null) {
      return fallback;
    }
    if (!(value instanceof Long || value instanceof Double)) {
      throw new MetadataException(source + ": 'smoothing." + key + "' must be a number");
    }
    return ((Number) value).doubleValue();
  }
}
