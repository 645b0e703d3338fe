package org.stsmedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * State bookkeeping with a fake backend that echoes states: step t gets step t-1's states; reset zeroes them.
 * Pacing is off here (every frame a step); StreamingSessionPacingTest paces.
 */
public class StreamingSessionTest {
  static Metadata metadata(String name) throws Exception {
    return Metadata.parse(Golden.text("metadata", name), name);
  }

  static StreamingSession unpaced(Metadata m, Backend backend, SmoothingConfig smoothing) throws Exception {
    return new StreamingSession(m, backend, smoothing, 3, StepPacer.everyFrame());
  }

  static YuvPlanes greyFrame(int w, int h, int level) {
    byte[] y = new byte[w * h];
    java.util.Arrays.fill(y, (byte) level);
    byte[] c = new byte[YuvPlanes.chromaWidth(w) * YuvPlanes.chromaHeight(h)];
    java.util.Arrays.fill(c, (byte) 128);
    return YuvPlanes.i420(w, h, y, c, c.clone());
  }

  @Test
  public void frameTReceivesFrameTMinus1StatesAndResetZeroesThem() throws Exception {
    Metadata m = metadata("stream_int8_executorch.json");
    assertTrue(m.stateInputs().size() >= 2);
    EchoBackend echo = new EchoBackend(m);
    StreamingSession session = unpaced(m, echo, SmoothingConfig.defaults());
    for (int t = 0; t < 5; t++) {
      session.step(greyFrame(64, 48, 100 + t), 0, t);
    }
    session.reset();
    echo.expectZeros();
    for (int t = 0; t < 3; t++) {
      session.step(greyFrame(64, 48, 50), 90, t);
    }
    assertEquals(echo.violations.toString(), 0, echo.violations.size());
    assertEquals(8, echo.calls);
    // Explicitly: float states, frame t's inputs are frame t-1's outputs, element for element.
    for (int t = 0; t < 8; t++) {
      for (int i = 1; i < m.inputs.size(); i++) {
        float[] got = echo.received.get(t)[i].floats();
        boolean fresh = t == 0 || t == 5;
        float[] want = fresh ? new float[got.length] : echo.returned.get(t - 1)[i].floats();
        assertArrayEquals("frame " + t + " state " + i, want, got, 0f);
        assertEquals(m.inputs.get(i).numel(), got.length);
      }
    }
    // The frame input is the preprocessed camera frame, in the sidecar's shape.
    assertArrayEquals(m.inputs.get(0).shape, echo.received.get(0)[0].shape);
    assertEquals(3, session.states().steps());
    session.close();
    assertTrue(echo.closed);
  }

  @Test
  public void quantizedStatesAreRequantizedWithTheInputScale() throws Exception {
    Metadata m = metadata("stream_int8_quantized_io.json");
    TensorSpec in1 = m.inputs.get(1);
    TensorSpec out1 = m.outputs.get(1);
    assertNotEquals(in1.quantization.scale, out1.quantization.scale, 0.0);
    EchoBackend echo = new EchoBackend(m);
    StreamingSession session = unpaced(m, echo, SmoothingConfig.defaults());
    for (int t = 0; t < 4; t++) {
      session.step(greyFrame(40, 30, 90), 0, t);
    }
    session.reset();
    echo.expectZeros();
    session.step(greyFrame(40, 30, 90), 0, 0);
    assertEquals(echo.violations.toString(), 0, echo.violations.size());
    // Zero states go in as the zero point; the frame goes in as int8.
    TensorData[] afterReset = echo.received.get(4);
    assertEquals(TensorData.Kind.INT8, afterReset[0].kind);
    for (byte b : afterReset[1].bytes()) {
      assertEquals(in1.quantization.zeroPoint, b);
    }
    // Frame 1's state 1 = quantize_in(dequantize_out(frame 0's new_state 1)).
    byte[] emitted = echo.returned.get(0)[1].bytes();
    byte[] expected = in1.quantization.quantize(out1.quantization.dequantize(emitted));
    assertArrayEquals(expected, echo.received.get(1)[1].bytes());
  }

  @Test
  public void sessionSmoothingEqualsPythonOnTheGoldenLogits() throws Exception {
    Map<String, Object> index = Golden.json("smoothing", "cases.json");
    float[][] rows = SmootherGoldenTest.logits(index);
    int classes = rows[0].length;
    Map<String, Object> raw = Golden.json("metadata", "stream_int8_executorch.json");
    Golden.map(raw.get("model")).put("num_classes", (long) classes);
    List<Object> labels = new ArrayList<>();
    for (int i = 0; i < classes; i++) {
      labels.add("class " + i);
    }
    raw.put("labels", labels);
    Golden.map(Golden.list(raw.get("outputs")).get(0)).put("shape", java.util.Arrays.asList(1L, (long) classes));
    Metadata m = Metadata.parse(Json.write(raw), "golden with " + classes + " classes");
    Map<String, Object> defaults = Golden.map(Golden.list(index.get("configs")).get(0));
    SmoothingConfig config = SmootherGoldenTest.config(Golden.map(defaults.get("config")));
    List<Object> expected = Golden.list(defaults.get("index"));
    EchoBackend echo = new EchoBackend(m, rows);
    StreamingSession session = unpaced(m, echo, config);
    float[] frame = new float[3 * 112 * 112];
    for (int t = 0; t < rows.length; t++) {
      Prediction p = session.stepPreprocessed(frame, t);
      int want = Golden.integer(expected.get(t));
      assertEquals("frame " + t, want, p.index);
      assertEquals(want < 0 ? Labels.NO_ACTION : "class " + want, p.label);
      assertEquals(t, p.frameIndex);
      assertTrue(p.modelStep);
      assertEquals(3, p.top.size());
      assertEquals(3, p.rawTop.size());
    }
    assertEquals(echo.violations.toString(), 0, echo.violations.size());
  }

  @Test
  public void wrongOutputsAreOneClearError() throws Exception {
    Metadata m = metadata("stream_int8_executorch.json");
    Backend tooFew = inputs -> new TensorData[] {TensorData.ofFloats(new long[] {1, 10}, new float[10])};
    StreamingSession session = new StreamingSession(m, tooFew, SmoothingConfig.defaults(), 3);
    try {
      session.stepPreprocessed(new float[3 * 112 * 112], 0);
      fail("expected an error");
    } catch (IllegalStateException expected) {
      assertTrue(expected.getMessage(), expected.getMessage().contains("returned 1 outputs"));
    }
    Backend wrongSize = inputs -> {
      TensorData[] out = new TensorData[inputs.length];
      out[0] = TensorData.ofFloats(new long[] {1, 10}, new float[10]);
      for (int i = 1; i < out.length; i++) {
        out[i] = TensorData.ofFloats(new long[] {1}, new float[1]);
      }
      return out;
    };
    try {
      new StreamingSession(m, wrongSize, SmoothingConfig.defaults(), 3).stepPreprocessed(new float[3 * 112 * 112], 0);
      fail("expected an error");
    } catch (IllegalStateException expected) {
      assertTrue(expected.getMessage(), expected.getMessage().contains("the sidecar's shape"));
    }
  }

  @Test
  public void clipArtifactsAreRefused() throws Exception {
    Map<String, Object> raw = Golden.json("metadata", "stream_int8_executorch.json");
    raw.put("form", "clip");
    Metadata clip = Metadata.parse(Json.write(raw), "clip.json");
    try {
      new StreamingSession(clip, new EchoBackend(clip), SmoothingConfig.defaults(), 3);
      fail("expected an error");
    } catch (MetadataException expected) {
      assertTrue(expected.getMessage().contains("stream artifacts"));
    }
  }
}
