package org.stsmedge.core;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The strings the demo shows, against Python's f-strings in stsm_edge.app.overlay. */
public class LabelsGoldenTest {
  @Test
  public void topKLinesMatchPython() throws Exception {
    List<Object> lines = Golden.list(Golden.json("format", "cases.json").get("lines"));
    for (Object item : lines) {
      Map<String, Object> c = Golden.map(item);
      assertEquals((String) c.get("text"), Labels.line(Golden.number(c.get("score")), (String) c.get("label")));
    }
  }

  @Test
  public void timingLinesMatchPython() throws Exception {
    List<Object> timings = Golden.list(Golden.json("format", "cases.json").get("timings"));
    for (Object item : timings) {
      Map<String, Object> c = Golden.map(item);
      Object fps = c.get("fps");
      assertEquals((String) c.get("text"),
          Labels.timing(Golden.number(c.get("latency_ms")), fps == null ? null : Golden.number(fps)));
    }
  }

  @Test
  public void topKIsMostProbableFirst() {
    List<Labels.Scored> top = Labels.topK(new double[] {0.1, 0.6, 0.05, 0.25}, Arrays.asList("a", "b", "c", "d"), 3);
    assertEquals(3, top.size());
    assertEquals("b", top.get(0).label);
    assertEquals("d", top.get(1).label);
    assertEquals("a", top.get(2).label);
    assertEquals(" 60% b", top.get(0).toString());
  }
}
