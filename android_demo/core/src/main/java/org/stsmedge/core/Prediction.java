package org.stsmedge.core;

import java.util.Collections;
import java.util.List;

/**
 * One frame's result, as Python's {@code runner.Prediction}. On a frame the pacer rejects, the model did not
 * run: the frame shows the latest model step's result again, timings included, with {@code modelStep} false.
 */
public final class Prediction {
  public final long frameIndex; // every frame given to the session counts, model step or not
  public final long timestampNanos; // as given to the session
  public final boolean modelStep; // the pacer took this frame as a model time step (else: the last result again)
  public final int index; // shown class, -1 for "no action"
  public final String label;
  public final double score;
  public final List<Labels.Scored> top; // smoothed top-k
  public final List<Labels.Scored> rawTop; // the model step's own top-k
  // The model step that made this result (carried on the frames in between: those cost next to nothing).
  public final double preprocessMs;
  public final double modelMs; // backend forward, including tensor conversion
  public final double latencyMs; // preprocessing + model + smoothing

  Prediction(long frameIndex, long timestampNanos, boolean modelStep, int index, String label, double score,
      List<Labels.Scored> top, List<Labels.Scored> rawTop, double preprocessMs, double modelMs, double latencyMs) {
    this.frameIndex = frameIndex;
    this.timestampNanos = timestampNanos;
    this.modelStep = modelStep;
    this.index = index;
    this.label = label;
    this.score = score;
    this.top = top;
    this.rawTop = rawTop;
    this.preprocessMs = preprocessMs;
    this.modelMs = modelMs;
    this.latencyMs = latencyMs;
  }

  /** What a frame shows before any model step gave a result (a step that failed, then rejected frames). */
  static Prediction none(long frameIndex, long timestampNanos) {
    return new Prediction(frameIndex, timestampNanos, false, -1, Labels.NO_ACTION, 0.0, Collections.emptyList(),
        Collections.emptyList(), 0.0, 0.0, 0.0);
  }

  /** This result shown again on a later frame that was not a model step. */
  Prediction repeatedOn(long frameIndex, long timestampNanos) {
    return new Prediction(frameIndex, timestampNanos, false, index, label, score, top, rawTop, preprocessMs, modelMs,
        latencyMs);
  }
}
