package org.stsmedge.core;

/** Mirror of {@code stsm_edge.smoothing.SmoothingConfig} (same defaults: the TSM online demo's). */
public final class SmoothingConfig {
  public final int window; // average of the last `window` logits
  public final int vote; // majority over the last `vote` top-1s; 1 = no vote
  public final int minHold; // hysteresis: change only after the shown label held this many frames
  public final double threshold; // softmax probability below which the label is "no action"

  public SmoothingConfig(int window, int vote, int minHold, double threshold) {
    if (window < 1 || vote < 1 || minHold < 1) {
      throw new IllegalArgumentException("window, vote and min_hold must be >= 1");
    }
    if (!(threshold >= 0.0 && threshold < 1.0)) {
      throw new IllegalArgumentException("threshold must be in [0, 1)");
    }
    this.window = window;
    this.vote = vote;
    this.minHold = minHold;
    this.threshold = threshold;
  }

  public static SmoothingConfig defaults() {
    return new SmoothingConfig(12, 1, 2, 0.0);
  }

  @Override
  public String toString() {
    return "window=" + window + " vote=" + vote + " min_hold=" + minHold + " threshold=" + threshold;
  }
}
