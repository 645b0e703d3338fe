package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The sidecar schema as stsm_edge.sidecar writes and validates it. */
public class MetadataTest {
  @Test
  public void readsTheExecuTorchStreamSidecar() throws Exception {
    Metadata m = Metadata.parse(Golden.text("metadata", "stream_int8_executorch.json"), "et");
    assertEquals("stream", m.form);
    assertEquals("executorch", m.target);
    assertEquals("int8", m.precision);
    assertEquals("mobilenet_v2_stream_int8.pte", m.artifact);
    assertEquals(10, m.numClasses);
    assertEquals(4, m.nSegments);
    assertEquals("action 3", m.labels.get(3));
    assertEquals(112, m.preprocess.height);
    assertEquals(128, m.preprocess.resizeShort);
    assertEquals(0.485f, m.preprocess.mean[0], 0f);
    assertEquals("frame", m.inputs.get(0).name);
    assertEquals("logits", m.outputs.get(0).name);
    assertNull(m.inputs.get(0).quantization);
    assertEquals(m.states.size(), m.stateInputs().size());
    for (int i = 0; i < m.states.size(); i++) {
      TensorSpec state = m.states.get(i);
      assertEquals(state.name, m.stateInputs().get(i).name);
      assertEquals("new_" + state.name, m.stateOutputs().get(i).name);
      assertEquals(java.util.Arrays.toString(state.shape), java.util.Arrays.toString(m.stateInputs().get(i).shape));
      assertEquals(4, state.shape.length);
    }
    assertTrue(m.stateBytes() > 0);
    assertEquals(Labels.NO_ACTION, m.label(-1));
  }

  /** The least a sidecar may carry under resources/artifact.schema.json: the core must accept it. */
  @Test
  public void readsASidecarWithOnlyTheFieldsTheSchemaRequires() throws Exception {
    Metadata m = Metadata.parse(Golden.text("metadata", "required_only.json"), "minimal");
    Metadata full = Metadata.parse(Golden.text("metadata", "stream_int8_executorch.json"), "full");
    assertEquals("stream", m.form);
    assertEquals(full.numClasses, m.numClasses);
    assertEquals(full.nSegments, m.nSegments);
    assertEquals(full.labels, m.labels);
    assertEquals(full.states.size(), m.states.size());
    assertEquals(full.stateBytes(), m.stateBytes());
    assertEquals(full.preprocess.resizeShort, m.preprocess.resizeShort);
    assertFalse(m.timeStepSeconds.isPresent());
  }

  @Test
  public void readsQuantizationParameters() throws Exception {
    Metadata m = Metadata.parse(Golden.text("metadata", "stream_int8_quantized_io.json"), "q");
    Map<String, Object> raw = Golden.json("metadata", "stream_int8_quantized_io.json");
    List<Object> inputs = Golden.list(raw.get("inputs"));
    for (int i = 0; i < inputs.size(); i++) {
      Map<String, Object> q = Golden.map(Golden.map(inputs.get(i)).get("quantization"));
      Quantization parsed = m.inputs.get(i).quantization;
      assertEquals(Golden.number(q.get("scale")), parsed.scale, 0.0);
      assertEquals(Golden.integer(q.get("zero_point")), parsed.zeroPoint);
      assertEquals("int8", parsed.dtype);
      assertEquals("int8", m.inputs.get(i).dtype);
    }
  }

  @Test
  public void readsTheOptionalTimeStep() throws Exception {
    String text = Golden.text("metadata", "stream_int8_executorch.json");
    Map<String, Object> raw = Json.parseObject(text);
    assertEquals(1.0 / 6, Golden.number(Golden.map(raw.get("time_step")).get("seconds")), 0.0);
    assertEquals(1.0 / 6, Metadata.parse(text, "et").timeStepSeconds.getAsDouble(), 0.0);
    raw.put("time_step", Json.parseObject("{\"seconds\": 2}"));
    assertEquals(2.0, Metadata.parse(Json.write(raw), "int").timeStepSeconds.getAsDouble(), 0.0);
    raw.put("time_step", null);
    assertFalse(Metadata.parse(Json.write(raw), "null").timeStepSeconds.isPresent());
    raw.remove("time_step");
    assertFalse(Metadata.parse(Json.write(raw), "absent").timeStepSeconds.isPresent());
  }

  @Test
  public void refusesAnInvalidTimeStepAsPythonDoes() throws Exception {
    String message = "x.json: 'time_step' must be null or an object with 'seconds' > 0";
    for (String invalid : new String[] {"0.1", "{}", "{\"seconds\": 0}", "{\"seconds\": -0.1}",
        "{\"seconds\": \"0.1\"}", "{\"seconds\": null}", "[0.1]"}) {
      Map<String, Object> raw = Golden.json("metadata", "stream_int8_executorch.json");
      raw.put("time_step", Json.parse(invalid));
      try {
        Metadata.parse(Json.write(raw), "x.json");
        fail("accepted time_step " + invalid);
      } catch (MetadataException expected) {
        assertEquals(invalid, message, expected.getMessage());
      }
    }
  }

  private static void assertRefused(Map<String, Object> raw, String fragment) {
    try {
      Metadata.parse(Json.write(raw), "x.json");
      fail("expected a refusal mentioning " + fragment);
    } catch (MetadataException expected) {
      assertTrue(expected.getMessage(), expected.getMessage().contains(fragment));
      assertTrue(expected.getMessage(), expected.getMessage().startsWith("x.json: "));
    }
  }

  @Test
  public void refusesWhatPythonRefuses() throws Exception {
    String text = Golden.text("metadata", "stream_int8_executorch.json");
    Map<String, Object> raw = Json.parseObject(text);
    raw.remove("states");
    assertRefused(raw, "missing key 'states'");
    raw = Json.parseObject(text);
    raw.put("schema", "other");
    assertRefused(raw, "is not 'stsm-edge/artifact'");
    raw = Json.parseObject(text);
    raw.put("version", (long) Metadata.VERSION + 1);
    assertRefused(raw, "schema version " + (Metadata.VERSION + 1) + " is newer");
    raw = Json.parseObject(text);
    raw.put("form", "batch");
    assertRefused(raw, "form must be 'clip' or 'stream'");
    raw = Json.parseObject(text);
    Golden.list(raw.get("labels")).remove(0);
    assertRefused(raw, "9 labels for 10 classes");
    raw = Json.parseObject(text);
    Golden.map(Golden.list(raw.get("inputs")).get(1)).remove("shape");
    assertRefused(raw, "an entry of 'inputs' lacks 'shape'");
    raw = Json.parseObject(text);
    raw.put("labels", "a,b");
    assertRefused(raw, "'labels' must be a list");
    try {
      Metadata.parse("{\"schema\": ", "broken.json");
      fail();
    } catch (MetadataException expected) {
      assertTrue(expected.getMessage().startsWith("broken.json: not valid JSON"));
    }
  }
}
