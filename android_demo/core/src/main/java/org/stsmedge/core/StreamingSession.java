package org.stsmedge.core;

import java.util.List;

/**
 * Live recognition on a stream artifact, one frame at a time: preprocess -> {@code forward(frame,
 * *states)} on the {@link Backend} -> carry the new states -> smooth -> top-k. The Java twin of
 * {@code FrameBufferRunner.step} for the stream form. Not thread safe: one analysis thread drives it.
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
  private final int topK;
  private final Clock clock;
  private long frameIndex;

  public StreamingSession(Metadata metadata, Backend backend, SmoothingConfig smoothing, int topK) {
    this(metadata, backend, smoothing, topK, System::nanoTime);
  }

  public StreamingSession(Metadata metadata, Backend backend, SmoothingConfig smoothing, int topK, Clock clock) {
    this.metadata = metadata;
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

  /** Back to a fresh session: zero states, no smoothing history, frame count 0. */
  public void reset() {
    states.reset();
    smoother.reset();
    frameIndex = 0;
  }

  /** A camera frame: YUV planes + the clockwise rotation that makes it upright. */
  public Prediction step(YuvPlanes frame, int rotation) throws Exception {
    long start = clock.nanoTime();
    float[] x = preprocessor.preprocess(frame, rotation);
    long preprocessed = clock.nanoTime();
    return run(x, start, preprocessed);
  }

  /** An already preprocessed (3, H, W) frame. */
  public Prediction stepPreprocessed(float[] frame) throws Exception {
    long start = clock.nanoTime();
    return run(frame, start, start);
  }

  private Prediction run(float[] x, long start, long preprocessed) throws Exception {
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
    return new Prediction(frameIndex++, smoothed.index, label, smoothed.score, top, rawTop,
        (preprocessed - start) / 1e6, (modelDone - preprocessed) / 1e6, (end - start) / 1e6);
  }

  @Override
  public void close() {
    backend.close();
  }
}
