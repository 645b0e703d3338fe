package org.stsmedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** int8 quantize / dequantize against stsm_edge.runtimes.base.quantize / dequantize: exact. */
public class QuantizationGoldenTest {
  private static Quantization q(Map<String, Object> m) {
    return new Quantization(Golden.number(m.get("scale")), Golden.integer(m.get("zero_point")), (String) m.get("dtype"));
  }

  @Test
  public void quantizeMatchesPythonExactly() throws Exception {
    List<Object> cases = Golden.list(Golden.json("quantize", "cases.json").get("cases"));
    assertEquals(3, cases.size());
    for (Object item : cases) {
      Map<String, Object> c = Golden.map(item);
      Quantization q = q(Golden.map(c.get("quantization")));
      float[] input = Golden.floats("quantize", (String) c.get("input"));
      byte[] expected = Golden.bytes("quantize", (String) c.get("expected_int8"));
      assertArrayEquals(q.toString(), expected, q.quantize(input));
    }
  }

  @Test
  public void dequantizeMatchesPythonExactly() throws Exception {
    for (Object item : Golden.list(Golden.json("quantize", "cases.json").get("cases"))) {
      Map<String, Object> c = Golden.map(item);
      Quantization q = q(Golden.map(c.get("quantization")));
      float[] expected = Golden.floats("quantize", (String) c.get("expected_dequantized"));
      assertArrayEquals(q.toString(), expected, q.dequantize(Golden.bytes("quantize", (String) c.get("ints"))), 0f);
    }
  }

  @Test
  public void roundsHalfToEvenAndSaturates() {
    Quantization q = new Quantization(1.0, 0, "int8");
    assertArrayEquals(new byte[] {0, 2, -2, 127, -128, 2}, q.quantize(new float[] {0.5f, 1.5f, -2.5f, 1000f, -1000f, 2.5f}));
    Quantization u = new Quantization(0.5, 10, "uint8");
    byte[] b = u.quantize(new float[] {-100f, 0f, 200f});
    assertEquals(0, b[0] & 0xff);
    assertEquals(10, b[1] & 0xff);
    assertEquals(255, b[2] & 0xff);
    assertArrayEquals(new float[] {-5f, 0f, 122.5f}, u.dequantize(b), 0f);
  }

  @Test(expected = MetadataException.class)
  public void zeroPointOutsideTheTypeIsRefused() {
    new Quantization(0.1, 200, "int8");
  }
}
