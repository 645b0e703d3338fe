package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
  @Test
  public void parsesValuesEscapesAndNumbers() {
    Map<String, Object> m = Json.parseObject(
        "{\"a\": [1, -2.5e-3, 0.1, 1E2, true, false, null], \"s\": \"q\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\", \"o\": {}}");
    List<?> a = (List<?>) m.get("a");
    assertEquals(1L, a.get(0));
    assertEquals(-2.5e-3, (Double) a.get(1), 0.0);
    assertEquals(0.1, (Double) a.get(2), 0.0);
    assertEquals(100.0, (Double) a.get(3), 0.0);
    assertEquals(Boolean.TRUE, a.get(4));
    assertNull(a.get(6));
    assertEquals("q\"\\/\n\u00e9\ud83d\ude00", m.get("s"));
    assertEquals(0, ((Map<?, ?>) m.get("o")).size());
    Map<String, Object> ordered = Json.parseObject("{\"z\": 1, \"a\": 2, \"m\": 3}");
    assertEquals(Arrays.asList("z", "a", "m"), new java.util.ArrayList<>(ordered.keySet()));
  }

  @Test
  public void roundTripsWhatItWrites() {
    Map<String, Object> m = Json.parseObject("{\"x\": [0.1, 1e-300, 12345678901234, \"t\\tab\"], \"y\": {\"z\": null}}");
    assertEquals(m, Json.parseObject(Json.write(m)));
    assertEquals(m, Json.parseObject(Json.writePretty(m)));
  }

  @Test
  public void refusesMalformedDocuments() {
    for (String bad : new String[] {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "[1] x", "{'a': 1}", "nul"}) {
      try {
        Json.parse(bad);
        fail("accepted " + bad);
      } catch (IllegalArgumentException expected) {
        // fine
      }
    }
  }
}
