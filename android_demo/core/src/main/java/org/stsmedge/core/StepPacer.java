package org.stsmedge.core;

/**
 * Which camera frames become model steps, by timestamp: the twin of {@code stsm_edge.timebase.StepPacer},
 * line for line, on integer nanoseconds (Python converts its seconds to the same integers, so both decide
 * identically; golden vectors check it).
 *
 * <p>A model learns motion at one time step (the time between two frames it saw in training). A camera
 * delivers frames at its own rate, so one model step per frame would show a model trained at 1/6 s a 30 fps
 * stream 5x slower than it learnt. The first frame is a step. Then steps fall due every {@code step} on a
 * fixed schedule, and the first frame at or after a due time (less the early tolerance) takes it, so the
 * step rate stays right on average whatever the camera's rate (at 25 fps and 1/6 s, gaps of 4 and 5 frames
 * alternate). A gap in the input longer than a step restarts the schedule instead of bursting, and a
 * timestamp that goes back (a new source) restarts it too.
 */
public final class StepPacer {
  /**
   * What a session assumes for a model whose sidecar records no time step (a foreign checkpoint): the
   * default model's step. Python's {@code DEFAULT_STEP_SECONDS}.
   */
  public static final double DEFAULT_STEP_SECONDS = 1.0 / 6;
  /**
   * A frame up to 1/10 of a step before its due time is on time: camera clocks jitter, and a 1/6 s schedule
   * meets 30 fps frames only up to rounding. Python's {@code EARLY_TOLERANCE_DIVISOR}: an integer, so both
   * sides compute the same tolerance.
   */
  public static final long EARLY_TOLERANCE_DIVISOR = 10;

  private static final long UNPACED = 0; // Python's step_ns None: no valid step rounds to 0 ns

  private final long stepNanos;
  private boolean started; // Python's `_due is not None`
  private long due;
  private long last;

  /** Paces at {@code stepSeconds}, rounded to whole nanoseconds half to even as Python's {@code round}. */
  public StepPacer(double stepSeconds) {
    this(checkedNanos(stepSeconds));
  }

  private StepPacer(long stepNanos) {
    this.stepNanos = stepNanos;
  }

  /** No pacing: every frame is a model step (what a runner without a time base does). */
  public static StepPacer everyFrame() {
    return new StepPacer(UNPACED);
  }

  /** Paces at the step the sidecar records, else at {@link #DEFAULT_STEP_SECONDS}. */
  public static StepPacer forModel(Metadata metadata) {
    return new StepPacer(metadata.timeStepSeconds.orElse(DEFAULT_STEP_SECONDS));
  }

  private static long checkedNanos(double stepSeconds) {
    long nanos = (long) Math.rint(stepSeconds * 1e9);
    if (!(stepSeconds > 0) || Double.isInfinite(stepSeconds) || nanos <= 0) {
      throw new IllegalArgumentException("a pacing step must be > 0 seconds, got " + stepSeconds);
    }
    return nanos;
  }

  public boolean isPaced() {
    return stepNanos != UNPACED;
  }

  /** The step in nanoseconds; 0 when every frame is a step. */
  public long stepNanos() {
    return stepNanos;
  }

  /** Forgets the schedule: the next frame is a step. */
  public void reset() {
    started = false;
  }

  /** Whether the frame stamped {@code timestampNanos} (any origin) takes a model step. */
  public boolean isStep(long timestampNanos) {
    if (!isPaced()) {
      return true;
    }
    long now = timestampNanos;
    // Back from the last frame, not the last step: a new source's clock can restart between two steps.
    boolean wentBack = started && now < last;
    last = now;
    if (!started || wentBack) { // the first frame, or a new source: a step, and the schedule starts here
      due = now + stepNanos;
      started = true;
    } else if (now >= due - stepNanos / EARLY_TOLERANCE_DIVISOR) {
      due += stepNanos; // on the schedule, not a step after this frame: the average rate stays right
      if (due <= now) { // a gap longer than a step: restart rather than burst through the missed steps
        due = now + stepNanos;
      }
    } else {
      return false;
    }
    return true;
  }
}
