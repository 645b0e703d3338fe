package org.stsmedge.core;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * Per-frame logits to a steady label: {@code stsm_edge/smoothing.py} step for step.
 *
 * <p>Average the last {@code window} logits (float64, summed in arrival order, divided by the count)
 * -> softmax -> top-1 -> majority over the last {@code vote} top-1s (ties: the most recent of the
 * tied) -> hysteresis (a new label replaces the shown one only once the shown one has been held
 * {@code min_hold} steps and its probability beats the shown one's by {@code margin}) -> below {@code threshold} the shown index is -1 ("no action").
 */
public final class Smoother {
  /** One frame's result, as Python's {@code Smoothed}. */
  public static final class Smoothed {
    public final double[] probs; // softmax of the averaged logits
    public final int index; // shown class, -1 for "no action"
    public final double score; // probability of the shown (or held) class

    Smoothed(double[] probs, int index, double score) {
      this.probs = probs;
      this.index = index;
      this.score = score;
    }
  }

  private final SmoothingConfig config;
  private final ArrayDeque<double[]> logits = new ArrayDeque<>();
  private final ArrayDeque<Integer> top1 = new ArrayDeque<>();
  private int shown = -1; // -1: nothing shown yet (Python's None)
  private int held;

  public Smoother(SmoothingConfig config) {
    this.config = config;
    reset();
  }

  public SmoothingConfig config() {
    return config;
  }

  public void reset() {
    logits.clear();
    top1.clear();
    shown = -1;
    held = 0;
  }

  public Smoothed update(float[] frameLogits) {
    double[] row = new double[frameLogits.length];
    for (int i = 0; i < row.length; i++) {
      row[i] = frameLogits[i];
    }
    return update(row);
  }

  public Smoothed update(double[] frameLogits) {
    if (!logits.isEmpty() && logits.peekFirst().length != frameLogits.length) {
      throw new IllegalArgumentException("logits of " + frameLogits.length + " classes after "
          + logits.peekFirst().length);
    }
    logits.addLast(frameLogits.clone());
    if (logits.size() > config.window) {
      logits.removeFirst();
    }
    // np.mean(deque, axis=0): row by row in order, then / count.
    double[] mean = new double[frameLogits.length];
    for (double[] r : logits) {
      for (int i = 0; i < mean.length; i++) {
        mean[i] += r[i];
      }
    }
    for (int i = 0; i < mean.length; i++) {
      mean[i] /= logits.size();
    }
    double[] probs = NumpyMath.softmax(mean);
    top1.addLast(NumpyMath.argmax(probs));
    if (top1.size() > config.vote) {
      top1.removeFirst();
    }
    int candidate = majority(top1);
    if (shown < 0 || candidate == shown
        || (held >= config.minHold && probs[candidate] - probs[shown] >= config.margin)) {
      held = candidate == shown ? held + 1 : 1;
      shown = candidate;
    } else {
      held += 1;
    }
    double score = probs[shown];
    return new Smoothed(probs, score >= config.threshold ? shown : -1, score);
  }

  /** Most frequent index; ties go to the most recent of the tied ones. */
  static int majority(ArrayDeque<Integer> indices) {
    java.util.HashMap<Integer, Integer> counts = new java.util.HashMap<>();
    int best = 0;
    for (int i : indices) {
      int c = counts.merge(i, 1, Integer::sum);
      best = Math.max(best, c);
    }
    Iterator<Integer> recentFirst = indices.descendingIterator();
    while (recentFirst.hasNext()) {
      int i = recentFirst.next();
      if (counts.get(i) == best) {
        return i;
      }
    }
    throw new IllegalStateException("majority of nothing");
  }
}
