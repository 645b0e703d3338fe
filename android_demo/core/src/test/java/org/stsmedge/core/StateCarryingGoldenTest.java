package org.stsmedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The state inputs StateBook feeds step after step against the Python runtime adapter's (golden states/cases.json),
 * given the same scripted model outputs: byte for byte, from the first step's initial states on. One sidecar
 * carries its states as int8 (LiteRT's default: each state input quantized like its output, handed back untouched
 * from the zero point), the other requantizes them through float32.
 */
public class StateCarryingGoldenTest {
  private static List<Map<String, Object>> cases() throws Exception {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Object c : Golden.list(Golden.json("states", "cases.json").get("cases"))) {
      out.add(Golden.map(c));
    }
    return out;
  }

  @Test
  public void stateInputsMatchPythonAtEveryStep() throws Exception {
    List<Map<String, Object>> cases = cases();
    assertEquals(2, cases.size());
    for (Map<String, Object> c : cases) {
      String name = (String) c.get("sidecar");
      Metadata m = Metadata.parse(Golden.text("metadata", name), name);
      StateBook book = new StateBook(m);
      boolean carried = name.contains("carried");
      for (int i = 0; i < book.count(); i++) {
        assertEquals(name + " state " + i, carried, book.carried(i));
      }
      float[] frame = new float[m.inputs.get(0).numel()];
      List<Object> steps = Golden.list(c.get("steps"));
      for (int t = 0; t < steps.size(); t++) {
        Map<String, Object> step = Golden.map(steps.get(t));
        TensorData[] in = book.inputs(frame);
        List<Object> want = Golden.list(step.get("state_inputs"));
        for (int i = 1; i < in.length; i++) {
          assertEquals(TensorData.Kind.INT8, in[i].kind);
          assertArrayEquals(m.inputs.get(i).shape, in[i].shape);
          assertArrayEquals(name + " step " + t + " state " + i, Golden.bytes("states", (String) want.get(i - 1)),
              in[i].bytes());
        }
        List<Object> returned = Golden.list(step.get("outputs"));
        TensorData[] out = new TensorData[in.length];
        out[0] = StateBook.encode(m.outputs.get(0), new float[m.outputs.get(0).numel()]);
        for (int i = 1; i < out.length; i++) {
          out[i] = TensorData.ofInt8(m.outputs.get(i).shape, Golden.bytes("states", (String) returned.get(i - 1)));
        }
        book.absorb(out);
      }
    }
  }

  @Test
  public void carriedStatesStartAtTheZeroPointAndResetToIt() throws Exception {
    Metadata m = Metadata.parse(Golden.text("metadata", "stream_int8_carried_states.json"), "carried");
    StateBook book = new StateBook(m);
    assertEquals(m.stateInputs().size(), book.count());
    long bytes = 0;
    for (int i = 0; i < book.count(); i++) {
      TensorSpec spec = m.inputs.get(i + 1);
      assertArrayEquals(m.states.get(i).shape, spec.shape);
      for (byte b : book.rawState(i)) {
        assertEquals(spec.quantization.zeroPoint, b);
      }
      for (float v : book.state(i)) {
        assertEquals(0.0f, v, 0.0f);
      }
      bytes += spec.numel();
    }
    assertEquals(bytes, m.stateBytes());
    TensorData[] out = new TensorData[m.outputs.size()];
    out[0] = TensorData.ofFloats(m.outputs.get(0).shape, new float[m.outputs.get(0).numel()]);
    for (int i = 1; i < out.length; i++) {
      byte[] values = new byte[m.outputs.get(i).numel()];
      java.util.Arrays.fill(values, (byte) 77);
      out[i] = TensorData.ofInt8(m.outputs.get(i).shape, values);
    }
    book.absorb(out);
    assertEquals(77, book.rawState(0)[0]);
    book.reset();
    assertEquals(m.inputs.get(1).quantization.zeroPoint, book.rawState(0)[0]);
    assertFalse(book.state(0)[0] != 0.0f);
  }

  @Test
  public void aCarriedStateQuantizedUnlikeItsInputIsRefused() throws Exception {
    String text = Golden.text("metadata", "stream_int8_carried_states.json");
    Map<String, Object> q = Golden.map(Golden.map(Golden.list(
        Golden.json("metadata", "stream_int8_carried_states.json").get("inputs")).get(1)).get("quantization"));
    String zero = "\"zero_point\": " + Golden.integer(q.get("zero_point"));
    int at = text.indexOf(zero, text.indexOf("\"inputs\""));
    String broken = text.substring(0, at) + "\"zero_point\": " + (Golden.integer(q.get("zero_point")) + 1)
        + text.substring(at + zero.length());
    try {
      Metadata.parse(broken, "broken");
      fail("a carried state whose input is quantized otherwise must be refused");
    } catch (MetadataException expected) {
      assertTrue(expected.getMessage(), expected.getMessage().contains("is carried as int8"));
    }
  }
}
