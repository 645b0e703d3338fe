package org.stsmedge.core;

import java.util.List;

/**
 * Live recognition on a stream artifact, one frame at a time: pace -> preprocess -> {@code forward(frame,
 * *states)} on the {@link Backend} -> carry the new states -> smooth -> top-k (a program that keeps its
 * states inside gets the frame alone, and carries them itself). The Java twin of
 * {@code FrameBufferRunner.step} for the stream form. A session starts a stream when it is made and on
 * {@link #reset()}: both reset the backend too. Frames are paced by their timestamps to the model's
 * time step ({@link StepPacer}): a frame that is not a model step is neither preprocessed nor run, and shows
 * the latest result again. Not thread safe: one analysis thread drives it.
 */
public final class StreamingSession implements AutoCloseable {
  /** Monotonic nanoseconds; tests may pass a fake. */
  public interface Clock {
    long nanoTime();
  }

  private final Metadata metadata;
  private final Backend backend;
  private final Preprocessor preprocessor;
  private final Smoother smoother;
  private final StateBook states;
  private final StepPacer pacer;
  private final int topK;
  private final Clock clock;
  private long frameIndex;
  private Prediction latest; // the last model step's result, shown again on the frames in between

  /** Paced at the sidecar's time step, else at {@link StepPacer#DEFAULT_STEP_SECONDS}. */
  public StreamingSession(Metadata metadata, Backend backend, SmoothingConfig smoothing, int topK)
      throws Exception {
    this(metadata, backend, smoothing, topK, StepPacer.forModel(metadata));
  }

  /**
   * Paced by {@code pacer}: {@code new StepPacer(seconds)} overrides the model's step, {@link
   * StepPacer#everyFrame()} turns pacing off. The session owns the pacer (reset resets it).
   */
  public StreamingSession(Metadata metadata, Backend backend, SmoothingConfig smoothing, int topK, StepPacer pacer)
      throws Exception {
    this(metadata, backend, smoothing, topK, pacer, System::nanoTime);
  }

  public StreamingSession(Metadata metadata, Backend backend, SmoothingConfig smoothing, int topK, StepPacer pacer,
      Clock clock) throws Exception {
    this.metadata = metadata;
    this.pacer = pacer;
    this.backend = backend;
    this.states = new StateBook(metadata);
    this.preprocessor = new Preprocessor(metadata.preprocess);
    this.smoother = new Smoother(smoothing);
    this.topK = topK;
    this.clock = clock;
    long[] frameShape = metadata.inputs.get(0).shape;
    if (TensorData.numel(frameShape) != preprocessor.outputSize()) {
      throw new MetadataException(metadata.artifact + ": frame input " + metadata.inputs.get(0)
          + " does not hold a 3x" + metadata.preprocess.height + "x" + metadata.preprocess.width + " frame");
    }
    backend.reset(); // whatever ran on it before, this session's stream starts from zero states
  }

  public Metadata metadata() {
    return metadata;
  }

  public StateBook states() {
    return states;
  }

  public Backend backend() {
    return backend;
  }

  public Preprocessor preprocessor() {
    return preprocessor;
  }

  public StepPacer pacer() {
    return pacer;
  }

  /**
   * Back to a fresh session: zero states (the session's, or the backend's own), no smoothing history, frame count
   * 0, the next frame a step.
   */
  public void reset() throws Exception {
    backend.reset();
    states.reset();
    smoother.reset();
    pacer.reset();
    frameIndex = 0;
    latest = null;
  }

  /**
   * A camera frame: YUV planes, the clockwise rotation that makes it upright, and its capture time in
   * nanoseconds (any origin, increasing: CameraX's {@code ImageInfo.getTimestamp()}).
   */
  public Prediction step(YuvPlanes frame, int rotation, long timestampNanos) throws Exception {
    long index = frameIndex++;
    if (!pacer.isStep(timestampNanos)) {
      return shownAgain(index, timestampNanos);
    }
    long start = clock.nanoTime();
    float[] x = preprocessor.preprocess(frame, rotation);
    long preprocessed = clock.nanoTime();
    return run(index, timestampNanos, x, start, preprocessed);
  }

  /** An already preprocessed (3, H, W) frame, paced like a camera frame (same schedule as {@link #step}). */
  public Prediction stepPreprocessed(float[] frame, long timestampNanos) throws Exception {
    long index = frameIndex++;
    if (!pacer.isStep(timestampNanos)) {
      return shownAgain(index, timestampNanos);
    }
    long start = clock.nanoTime();
    return run(index, timestampNanos, frame, start, start);
  }

  private Prediction shownAgain(long index, long timestampNanos) {
    return latest == null ? Prediction.none(index, timestampNanos) : latest.repeatedOn(index, timestampNanos);
  }

  private Prediction run(long index, long timestampNanos, float[] x, long start, long preprocessed)
      throws Exception {
    TensorData[] inputs = states.inputs(x);
    TensorData[] outputs = backend.forward(inputs);
    float[] logits = states.absorb(outputs);
    long modelDone = clock.nanoTime();
    Smoother.Smoothed smoothed = smoother.update(logits);
    List<String> labels = metadata.labels;
    List<Labels.Scored> top = Labels.topK(smoothed.probs, labels, topK);
    double[] raw = new double[logits.length];
    for (int i = 0; i < raw.length; i++) {
      raw[i] = logits[i];
    }
    List<Labels.Scored> rawTop = Labels.topK(NumpyMath.softmax(raw), labels, topK);
    long end = clock.nanoTime();
    String label = smoothed.index < 0 ? Labels.NO_ACTION : labels.get(smoothed.index);
    latest = new Prediction(index, timestampNanos, true, smoothed.index, label, smoothed.score, top, rawTop,
        (preprocessed - start) / 1e6, (modelDone - preprocessed) / 1e6, (end - start) / 1e6);
    return latest;
  }

  @Override
  public void close() {
    backend.close();
  }
}
