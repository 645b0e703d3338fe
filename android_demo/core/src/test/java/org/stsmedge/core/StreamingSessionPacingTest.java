package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Map;
import org.junit.Test;

/** Camera frames paced to the model's time step: only step frames are preprocessed and reach the backend. */
public class StreamingSessionPacingTest {
  private static final long BOOT_NS = 86_400_000_000_000L; // CameraX stamps frames in ns since boot

  static long stamp(int frame, double fps) {
    return BOOT_NS + Math.round(frame * 1e9 / fps);
  }

  static Metadata withTimeStep(Object timeStep) throws Exception {
    Map<String, Object> raw = Golden.json("metadata", "stream_int8_executorch.json");
    raw.put("time_step", timeStep);
    return Metadata.parse(Json.write(raw), "paced.json");
  }

  /** Backend calls for {@code seconds} of 30 fps frames through stepPreprocessed. */
  static int stepsAt30Fps(StreamingSession session, EchoBackend echo, int seconds) throws Exception {
    float[] frame = new float[3 * 112 * 112];
    for (int i = 0; i < 30 * seconds; i++) {
      session.stepPreprocessed(frame, stamp(i, 30));
    }
    return echo.calls;
  }

  @Test
  public void thirtyFpsAtTheSidecarsSixthOfASecondRunsSixStepsASecond() throws Exception {
    Metadata m = StreamingSessionTest.metadata("stream_int8_executorch.json");
    assertEquals(1.0 / 6, m.timeStepSeconds.getAsDouble(), 0.0);
    EchoBackend echo = new EchoBackend(m);
    StreamingSession session = new StreamingSession(m, echo, SmoothingConfig.defaults(), 3);
    StepPacer reference = new StepPacer(1.0 / 6); // golden-tested against Python's
    Preprocessor preprocessor = new Preprocessor(m.preprocess);
    int seconds = 5;
    int[] stepsInSecond = new int[seconds];
    Prediction latestStep = null;
    for (int i = 0; i < 30 * seconds; i++) {
      long t = stamp(i, 30);
      boolean step = reference.isStep(t);
      // A rejected frame must not even be read: null would fail in preprocessing.
      YuvPlanes frame = step ? StreamingSessionTest.greyFrame(64, 48, 40 + i) : null;
      Prediction p = session.step(frame, 0, t);
      assertEquals("frame " + i, step, p.modelStep);
      assertEquals(i, p.frameIndex);
      assertEquals(t, p.timestampNanos);
      if (step) {
        // The backend got this very frame, preprocessed (grey level 40 + i).
        float[] sent = echo.received.get(echo.calls - 1)[0].floats();
        assertEquals("frame " + i, preprocessor.preprocess(frame, 0)[0], sent[0], 0f);
        stepsInSecond[i / 30]++;
        latestStep = p;
      } else {
        assertEquals(latestStep.label, p.label);
        assertEquals(latestStep.score, p.score, 0.0);
        assertSame(latestStep.top, p.top);
        assertEquals(latestStep.latencyMs, p.latencyMs, 0.0);
      }
    }
    int total = 0;
    for (int s = 0; s < seconds; s++) {
      assertTrue("second " + s + ": " + stepsInSecond[s] + " steps", Math.abs(stepsInSecond[s] - 6) <= 1);
      total += stepsInSecond[s];
    }
    assertEquals(total, echo.calls);
    assertEquals(total, session.states().steps());
    assertEquals(echo.violations.toString(), 0, echo.violations.size());
  }

  @Test
  public void theStepIsTheSidecarsElseTheDefaultUnlessOverridden() throws Exception {
    Metadata tenth = withTimeStep(Json.parseObject("{\"seconds\": 0.1, \"spread\": 0.0, \"source\": \"--step-ms\"}"));
    EchoBackend echo = new EchoBackend(tenth);
    assertEquals(30, stepsAt30Fps(new StreamingSession(tenth, echo, SmoothingConfig.defaults(), 3), echo, 3));

    Metadata unknown = withTimeStep(null);
    echo = new EchoBackend(unknown);
    assertEquals(18, stepsAt30Fps(new StreamingSession(unknown, echo, SmoothingConfig.defaults(), 3), echo, 3));

    echo = new EchoBackend(tenth);
    StreamingSession quarter = new StreamingSession(tenth, echo, SmoothingConfig.defaults(), 3, new StepPacer(0.25));
    assertEquals(12, stepsAt30Fps(quarter, echo, 3));

    echo = new EchoBackend(tenth);
    StreamingSession unpaced = new StreamingSession(tenth, echo, SmoothingConfig.defaults(), 3, StepPacer.everyFrame());
    assertEquals(90, stepsAt30Fps(unpaced, echo, 3));
  }

  @Test
  public void resetMakesTheNextFrameAStep() throws Exception {
    Metadata m = StreamingSessionTest.metadata("stream_int8_executorch.json");
    EchoBackend echo = new EchoBackend(m);
    StreamingSession session = new StreamingSession(m, echo, SmoothingConfig.defaults(), 3);
    float[] frame = new float[3 * 112 * 112];
    assertTrue(session.stepPreprocessed(frame, stamp(0, 30)).modelStep);
    assertFalse(session.stepPreprocessed(frame, stamp(1, 30)).modelStep);
    session.reset();
    echo.expectZeros();
    Prediction afterReset = session.stepPreprocessed(frame, stamp(2, 30));
    assertTrue(afterReset.modelStep);
    assertEquals(0, afterReset.frameIndex);
    assertEquals(2, echo.calls);
    assertEquals(echo.violations.toString(), 0, echo.violations.size());
  }

  @Test
  public void framesAfterAFailedStepShowNoAction() throws Exception {
    Metadata m = StreamingSessionTest.metadata("stream_int8_executorch.json");
    Backend failing = inputs -> {
      throw new IllegalStateException("delegate crashed");
    };
    StreamingSession session = new StreamingSession(m, failing, SmoothingConfig.defaults(), 3);
    float[] frame = new float[3 * 112 * 112];
    try {
      session.stepPreprocessed(frame, stamp(0, 30));
      fail("expected the backend's error");
    } catch (IllegalStateException expected) {
      assertEquals("delegate crashed", expected.getMessage());
    }
    Prediction p = session.stepPreprocessed(frame, stamp(1, 30));
    assertFalse(p.modelStep);
    assertEquals(-1, p.index);
    assertEquals(Labels.NO_ACTION, p.label);
    assertTrue(p.top.isEmpty());
  }
}
