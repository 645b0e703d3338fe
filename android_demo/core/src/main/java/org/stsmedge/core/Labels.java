package org.stsmedge.core;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/** Top-k and the strings the demo shows, formatted as Python's overlay formats them. */
public final class Labels {
  public static final String NO_ACTION = "no action";
  /** The overlay cuts a top-k line at 34 characters. */
  public static final int LINE_CHARS = 34;

  private Labels() {}

  /** A (class, probability) pair. */
  public static final class Scored {
    public final int index;
    public final String label;
    public final double score;

    public Scored(int index, String label, double score) {
      this.index = index;
      this.label = label;
      this.score = score;
    }

    @Override
    public String toString() {
      return line(score, label);
    }
  }

  /**
   * The k most probable classes, most probable first (Python: {@code np.argsort(-probs)[:k]} on the
   * float32 probabilities; equal probabilities keep index order).
   */
  public static List<Scored> topK(double[] probs, List<String> labels, int k) {
    Integer[] order = new Integer[probs.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> Float.compare((float) probs[b], (float) probs[a]));
    List<Scored> out = new ArrayList<>();
    for (int i = 0; i < Math.min(k, order.length); i++) {
      int idx = order[i];
      out.add(new Scored(idx, labels.get(idx), (float) probs[idx]));
    }
    return out;
  }

  /** {@code f"{score:4.0%} {label}"[:34]}: e.g. {@code " 87% drinking"}. */
  public static String line(double score, String label) {
    String percent = fixed(score * 100.0, 0) + "%";
    StringBuilder text = new StringBuilder();
    for (int i = percent.length(); i < 4; i++) {
      text.append(' ');
    }
    text.append(percent).append(' ').append(label);
    return truncateCodePoints(text.toString(), LINE_CHARS);
  }

  /** {@code f"{model_ms:.1f} ms/step" + (f"  {fps:.1f} FPS" if fps else "")}: a model step's latency. */
  public static String timing(double stepMs, Double fps) {
    String text = fixed(stepMs, 1) + " ms/step";
    if (fps != null && fps != 0.0) {
      text += "  " + fixed(fps, 1) + " FPS";
    }
    return text;
  }

  /** Python's fixed-point format: the double's exact value rounded half to even. */
  public static String fixed(double value, int decimals) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return Double.isNaN(value) ? "nan" : (value > 0 ? "inf" : "-inf");
    }
    String text = new BigDecimal(value).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString();
    if (value < 0 || (value == 0 && 1 / value < 0)) {
      if (!text.startsWith("-")) {
        text = "-" + text; // Python keeps the sign of a negative value that rounds to zero
      }
    }
    return text;
  }

  static String truncateCodePoints(String s, int n) {
    if (s.codePointCount(0, s.length()) <= n) {
      return s;
    }
    return s.substring(0, s.offsetByCodePoints(0, n));
  }
}
