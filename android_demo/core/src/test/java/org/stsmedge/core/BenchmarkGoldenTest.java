package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Benchmark statistics against numpy.percentile / mean, and the results JSON schema. */
public class BenchmarkGoldenTest {
  @Test
  public void statsMatchNumpy() throws Exception {
    for (Object item : Golden.list(Golden.json("bench", "cases.json").get("cases"))) {
      Map<String, Object> c = Golden.map(item);
      List<Object> values = Golden.list(c.get("latencies_ms"));
      double[] ms = new double[values.size()];
      for (int i = 0; i < ms.length; i++) {
        ms[i] = Golden.number(values.get(i));
      }
      BenchmarkStats s = BenchmarkStats.of(ms);
      assertEquals(ms.length, s.iterations);
      assertEquals(Golden.number(c.get("p50")), s.p50, 1e-12);
      assertEquals(Golden.number(c.get("p90")), s.p90, 1e-12);
      assertEquals(Golden.number(c.get("p99")), s.p99, 1e-12);
      assertEquals(Golden.number(c.get("mean")), s.mean, 1e-12);
    }
  }

  @Test
  public void reportFollowsTheResultsSchema() throws Exception {
    Metadata m = Metadata.parse(Golden.text("metadata", "stream_int8_executorch.json"), "golden");
    BenchmarkStats stats = BenchmarkStats.of(new double[] {10, 12, 11, 30});
    BenchmarkReport report = new BenchmarkReport(BenchmarkReport.device("Pixel 7", "Google", "arm64-v8a", 8, 34))
        .add(m, "executorch", 4, stats, 5).put("created", "2025-01-01T00:00:00Z");
    Map<String, Object> back = Json.parseObject(report.toJson());
    assertEquals("stsm-edge/bench-results", back.get("schema"));
    assertEquals(1L, back.get("version"));
    Map<String, Object> device = Golden.map(back.get("device"));
    assertEquals("Pixel 7", device.get("model"));
    assertEquals(34L, device.get("android_sdk"));
    assertEquals(8L, device.get("cores"));
    List<Object> results = Golden.list(back.get("results"));
    assertEquals(1, results.size());
    Map<String, Object> row = Golden.map(results.get(0));
    assertEquals(Arrays.asList("artifact", "target", "form", "precision", "threads", "metric", "p50", "p90", "p99",
        "mean", "iterations", "warmup"), new java.util.ArrayList<>(row.keySet()));
    assertEquals("mobilenet_v2_stream_int8.pte", row.get("artifact"));
    assertEquals("executorch", row.get("target"));
    assertEquals("stream", row.get("form"));
    assertEquals("int8", row.get("precision"));
    assertEquals("frame_latency_ms", row.get("metric"));
    assertEquals(4L, row.get("threads"));
    assertEquals(4L, row.get("iterations"));
    assertEquals(5L, row.get("warmup"));
    assertEquals(11.5, (Double) row.get("p50"), 0.0);
    assertEquals(15.75, (Double) row.get("mean"), 0.0);
  }

  @Test
  public void benchmarkTimesForwardWithStatesCarried() throws Exception {
    Metadata m = Metadata.parse(Golden.text("metadata", "stream_int8_executorch.json"), "golden");
    EchoBackend echo = new EchoBackend(m);
    long[] now = {0};
    BenchmarkStats s = Benchmark.run(m, echo, new float[3 * 112 * 112], 3, 7, () -> now[0] += 2_000_000);
    assertEquals(7, s.iterations);
    assertEquals(2.0, s.p50, 0.0); // each timed step spans exactly one fake clock tick
    assertEquals(10, echo.calls);
    assertTrue(echo.violations.isEmpty());
  }

  @Test
  public void fpsMeterCountsFramesOverTheWindow() {
    FpsMeter meter = new FpsMeter(5);
    assertEquals(0.0, meter.tick(0), 0.0);
    for (int i = 1; i <= 10; i++) {
      meter.tick(i * 40_000_000L); // 25 FPS
    }
    assertEquals(25.0, meter.fps(), 1e-9);
  }
}
