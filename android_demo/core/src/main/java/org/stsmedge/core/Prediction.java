package org.stsmedge.core;

import java.util.List;

/** One frame's result, as Python's {@code runner.Prediction} (stream form: the model runs every frame). */
public final class Prediction {
  public final long frameIndex;
  public final int index; // shown class, -1 for "no action"
  public final String label;
  public final double score;
  public final List<Labels.Scored> top; // smoothed top-k
  public final List<Labels.Scored> rawTop; // this frame's own top-k
  public final double preprocessMs;
  public final double modelMs; // backend forward, including tensor conversion
  public final double latencyMs; // preprocessing + model + smoothing

  Prediction(long frameIndex, int index, String label, double score, List<Labels.Scored> top,
      List<Labels.Scored> rawTop, double preprocessMs, double modelMs, double latencyMs) {
    this.frameIndex = frameIndex;
    this.index = index;
    this.label = label;
    this.score = score;
    this.top = top;
    this.rawTop = rawTop;
    this.preprocessMs = preprocessMs;
    this.modelMs = modelMs;
    this.latencyMs = latencyMs;
  }
}
