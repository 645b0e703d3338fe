package org.stsmedge.core;

/**
 * The few NumPy float64 reductions the Python references use, with NumPy's own summation order, so
 * the Java results equal Python's bit for bit where the operations are correctly rounded (+, -, /).
 * ({@code exp} is the exception: NumPy's SIMD exp and Java's may differ in the last bit.)
 */
public final class NumpyMath {
  private NumpyMath() {}

  /** {@code np.sum} of a contiguous float64 array: NumPy's pairwise summation (8-way unrolled blocks of 128). */
  public static double sum(double[] a) {
    return pairwise(a, 0, a.length);
  }

  static double pairwise(double[] a, int lo, int n) {
    if (n < 8) {
      double res = 0.0;
      for (int i = 0; i < n; i++) {
        res += a[lo + i];
      }
      return res;
    } else if (n <= 128) {
      double r0 = a[lo], r1 = a[lo + 1], r2 = a[lo + 2], r3 = a[lo + 3];
      double r4 = a[lo + 4], r5 = a[lo + 5], r6 = a[lo + 6], r7 = a[lo + 7];
      int i;
      for (i = 8; i < n - (n % 8); i += 8) {
        r0 += a[lo + i];
        r1 += a[lo + i + 1];
        r2 += a[lo + i + 2];
        r3 += a[lo + i + 3];
        r4 += a[lo + i + 4];
        r5 += a[lo + i + 5];
        r6 += a[lo + i + 6];
        r7 += a[lo + i + 7];
      }
      double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
      for (; i < n; i++) {
        res += a[lo + i];
      }
      return res;
    } else {
      int n2 = n / 2;
      n2 -= n2 % 8;
      return pairwise(a, lo, n2) + pairwise(a, lo + n2, n - n2);
    }
  }

  /** {@code np.mean} of a 1-D float64 array. */
  public static double mean(double[] a) {
    return sum(a) / a.length;
  }

  /** {@code softmax} of stsm_edge.smoothing: {@code e = exp(x - max); e / e.sum()}. */
  public static double[] softmax(double[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (double x : logits) {
      max = Math.max(max, x);
    }
    double[] e = new double[logits.length];
    for (int i = 0; i < e.length; i++) {
      e[i] = Math.exp(logits[i] - max);
    }
    double total = sum(e);
    for (int i = 0; i < e.length; i++) {
      e[i] /= total;
    }
    return e;
  }

  /** {@code np.argmax}: the first index of the maximum. */
  public static int argmax(double[] a) {
    int best = 0;
    for (int i = 1; i < a.length; i++) {
      if (a[i] > a[best]) {
        best = i;
      }
    }
    return best;
  }

  /** {@code np.percentile(a, q)} with the default "linear" method (a need not be sorted). */
  public static double percentile(double[] a, double q) {
    if (a.length == 0) {
      throw new IllegalArgumentException("percentile of an empty array");
    }
    double[] sorted = a.clone();
    java.util.Arrays.sort(sorted);
    double quantile = q / 100.0;
    double virtual = (sorted.length - 1) * quantile;
    double previous = Math.floor(virtual);
    int lo = (int) Math.max(0, Math.min(previous, sorted.length - 1));
    int hi = (int) Math.max(0, Math.min(previous + 1, sorted.length - 1));
    double gamma = virtual - previous;
    double x0 = sorted[lo];
    double x1 = sorted[hi];
    double diff = x1 - x0;
    // NumPy's _lerp: a + diff * t, or b - diff * (1 - t) when t >= 0.5 (monotone, exact at the ends).
    return gamma >= 0.5 ? x1 - diff * (1 - gamma) : x0 + diff * gamma;
  }
}
