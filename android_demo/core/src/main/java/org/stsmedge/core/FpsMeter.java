package org.stsmedge.core;

/** Frames per second over the last {@code window} frame timestamps (camera-to-result rate, not model speed). */
public final class FpsMeter {
  private final long[] stamps;
  private int count;
  private int next;

  public FpsMeter(int window) {
    if (window < 2) {
      throw new IllegalArgumentException("window must be >= 2");
    }
    stamps = new long[window];
  }

  /** Records a frame at {@code nanos}; returns the current rate (0 until two frames were seen). */
  public double tick(long nanos) {
    stamps[next] = nanos;
    next = (next + 1) % stamps.length;
    count = Math.min(count + 1, stamps.length);
    return fps();
  }

  public double fps() {
    if (count < 2) {
      return 0.0;
    }
    int newest = (next - 1 + stamps.length) % stamps.length;
    int oldest = count < stamps.length ? 0 : next;
    long span = stamps[newest] - stamps[oldest];
    return span <= 0 ? 0.0 : (count - 1) * 1e9 / span;
  }

  public void reset() {
    count = 0;
    next = 0;
  }
}
