package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * A stream artifact that keeps its states inside the program (sidecar "state": "internal"): the session sends
 * the frame alone, takes the logits alone, and starts every stream (its own creation, reset, a benchmark) by
 * resetting the backend. The fake program's only state is how many frames it has seen since its last reset,
 * and its top class says so, so a stream that is not reset shows the wrong class.
 */
public class InternalStateSessionTest {
  /** A program with state inside: logits peak at class (frames seen since the last reset - 1) % classes. */
  static final class CountingProgram implements Backend {
    final Metadata metadata;
    final List<Integer> inputCounts = new ArrayList<>();
    int resets;
    int seen;

    CountingProgram(Metadata metadata) {
      this.metadata = metadata;
    }

    @Override
    public TensorData[] forward(TensorData[] inputs) {
      inputCounts.add(inputs.length);
      float[] logits = new float[metadata.numClasses];
      logits[seen++ % logits.length] = 10f;
      return new TensorData[] {TensorData.ofFloats(metadata.outputs.get(0).shape, logits)};
    }

    @Override
    public void reset() {
      resets++;
      seen = 0;
    }
  }

  static Metadata internal() throws Exception {
    return StreamingSessionTest.metadata("stream_int8_internal.json");
  }

  static int topClass(Prediction p) {
    return p.rawTop.get(0).index;
  }

  @Test
  public void theFrameGoesInAloneAndEveryStreamStartsWithAReset() throws Exception {
    Metadata m = internal();
    CountingProgram program = new CountingProgram(m);
    program.seen = 7; // what an earlier stream left in the program
    StreamingSession session = StreamingSessionTest.unpaced(m, program, SmoothingConfig.defaults());
    assertEquals(0, session.states().count());
    float[] frame = new float[3 * 112 * 112];
    for (int t = 0; t < 3; t++) {
      assertEquals("frame " + t, t, topClass(session.stepPreprocessed(frame, t)));
    }
    session.reset();
    assertEquals(0, topClass(session.stepPreprocessed(frame, 3)));
    assertEquals(2, program.resets);
    assertEquals(List.of(1, 1, 1, 1), program.inputCounts);
  }

  @Test
  public void theBenchmarkStartsItsOwnStream() throws Exception {
    Metadata m = internal();
    CountingProgram program = new CountingProgram(m);
    program.seen = 7;
    Benchmark.run(m, program, new float[3 * 112 * 112], 2, 5);
    assertEquals(1, program.resets);
    assertEquals(7, program.seen);
    BenchmarkReport report = new BenchmarkReport(BenchmarkReport.device("Pixel 7", "Google", "arm64-v8a", 8, 34))
        .add(m, "executorch", 4, BenchmarkStats.of(new double[] {1, 2}), 2);
    Map<String, Object> row = Golden.map(Golden.list(Json.parseObject(report.toJson()).get("results")).get(0));
    assertEquals("internal", row.get("state"));
  }

  @Test
  public void theSidecarListsTheStatesButNoStateInputsOrOutputs() throws Exception {
    Metadata m = internal();
    Metadata explicit = StreamingSessionTest.metadata("stream_int8_executorch.json");
    assertTrue(m.statesInside);
    assertFalse(explicit.statesInside);
    assertFalse(StreamingSessionTest.metadata("required_only.json").statesInside); // absent: explicit
    assertEquals(explicit.states.size(), m.states.size());
    for (int i = 0; i < m.states.size(); i++) {
      assertEquals(explicit.states.get(i).name, m.states.get(i).name);
    }
    assertEquals(1, m.inputs.size());
    assertEquals("frame", m.inputs.get(0).name);
    assertEquals(1, m.outputs.size());
    assertEquals("logits", m.outputs.get(0).name);
    assertTrue(m.stateInputs().isEmpty());
    assertEquals(0, m.stateBytes());
  }

  private static void assertRefused(Map<String, Object> raw, String fragment) {
    try {
      Metadata.parse(Json.write(raw), "x.json");
      fail("expected a refusal mentioning " + fragment);
    } catch (MetadataException expected) {
      assertTrue(expected.getMessage(), expected.getMessage().startsWith("x.json: "));
      assertTrue(expected.getMessage(), expected.getMessage().contains(fragment));
    }
  }

  @Test
  public void refusesWhatTheSchemaRefuses() throws Exception {
    Map<String, Object> withStateInputs = Golden.json("metadata", "stream_int8_executorch.json");
    withStateInputs.put("state", "internal");
    assertRefused(withStateInputs, "takes the frame alone");
    Map<String, Object> unknown = Golden.json("metadata", "stream_int8_internal.json");
    unknown.put("state", "inside");
    assertRefused(unknown, "'state' must be 'explicit' or 'internal'");
  }
}
