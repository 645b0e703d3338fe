package org.stsmedge.core;

/**
 * Mirror of {@code stsm_edge.smoothing.SmoothingConfig}: the smoother's settings in model steps. A model's own
 * smoothing is given in seconds ({@link SmoothingSeconds}, from its sidecar) and turned into steps with its time
 * step: {@link #forModel}.
 */
public final class SmoothingConfig {
  public final int window; // average of the last `window` logits
  public final int vote; // majority over the last `vote` top-1s; 1 = no vote
  public final int minHold; // hysteresis: change only after the shown label held this many steps
  public final double threshold; // softmax probability below which the label is "no action"
  public final double margin; // hysteresis: a new label's probability must beat the shown one's by this much

  public SmoothingConfig(int window, int vote, int minHold, double threshold) {
    this(window, vote, minHold, threshold, 0.0);
  }

  public SmoothingConfig(int window, int vote, int minHold, double threshold, double margin) {
    if (window < 1 || vote < 1 || minHold < 1) {
      throw new IllegalArgumentException("window, vote and min_hold must be >= 1");
    }
    if (!(threshold >= 0.0 && threshold < 1.0)) {
      throw new IllegalArgumentException("threshold must be in [0, 1)");
    }
    if (!(margin >= 0.0 && margin < 1.0)) {
      throw new IllegalArgumentException("margin must be in [0, 1)");
    }
    this.window = window;
    this.vote = vote;
    this.minHold = minHold;
    this.threshold = threshold;
    this.margin = margin;
  }

  /** The TSM online demo's settings in steps (Python's {@code SmoothingConfig()}). */
  public static SmoothingConfig defaults() {
    return new SmoothingConfig(12, 1, 2, 0.0);
  }

  /**
   * What the Python runner smooths with when no setting is given: the sidecar's recommended smoothing (else
   * {@link SmoothingSeconds#RECOMMENDED}) at the model's time step (else the runner's default step).
   */
  public static SmoothingConfig forModel(Metadata metadata) {
    return metadata.smoothing.orElse(SmoothingSeconds.RECOMMENDED)
        .steps(metadata.timeStepSeconds.orElse(StepPacer.DEFAULT_STEP_SECONDS));
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof SmoothingConfig)) {
      return false;
    }
    SmoothingConfig o = (SmoothingConfig) other;
    return window == o.window && vote == o.vote && minHold == o.minHold && threshold == o.threshold
        && margin == o.margin;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(window, vote, minHold, threshold, margin);
  }

  @Override
  public String toString() {
    return "window=" + window + " vote=" + vote + " min_hold=" + minHold + " threshold=" + threshold
        + " margin=" + margin;
  }
}
