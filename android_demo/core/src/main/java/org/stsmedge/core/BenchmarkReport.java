package org.stsmedge.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The benchmark-mode JSON ("stsm-edge/bench-results", version 1), documented in android_demo/README.md:
 *
 * <pre>
 * {"schema": "stsm-edge/bench-results", "version": 1,
 *  "device": {"model", "manufacturer", "abi", "cores", "android_sdk", ...},
 *  "results": [{"artifact", "target": "executorch", "form": "stream", "precision", "threads",
 *               "metric": "frame_latency_ms", "p50", "p90", "p99", "mean", "iterations", "warmup"}]}
 * </pre>
 */
public final class BenchmarkReport {
  public static final String SCHEMA = "stsm-edge/bench-results";
  public static final int VERSION = 1;
  public static final String METRIC = "frame_latency_ms";

  private final Map<String, Object> device;
  private final List<Map<String, Object>> results = new ArrayList<>();
  private final Map<String, Object> extra = new LinkedHashMap<>();

  public BenchmarkReport(Map<String, Object> device) {
    this.device = new LinkedHashMap<>(device);
  }

  /** The device fingerprint the schema asks for; the app fills it from android.os.Build. */
  public static Map<String, Object> device(String model, String manufacturer, String abi, int cores, int androidSdk) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("model", model);
    d.put("manufacturer", manufacturer);
    d.put("abi", abi);
    d.put("cores", (long) cores);
    d.put("android_sdk", (long) androidSdk);
    return d;
  }

  /** One result row for a stream artifact run with {@code threads} threads (0 = runtime default). */
  public BenchmarkReport add(Metadata metadata, String target, int threads, BenchmarkStats stats, int warmup) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("artifact", metadata.artifact);
    row.put("target", target);
    row.put("form", metadata.form);
    row.put("precision", metadata.precision);
    row.put("threads", (long) threads);
    row.put("metric", METRIC);
    row.put("p50", stats.p50);
    row.put("p90", stats.p90);
    row.put("p99", stats.p99);
    row.put("mean", stats.mean);
    row.put("iterations", (long) stats.iterations);
    row.put("warmup", (long) warmup);
    if (metadata.statesInside) {
      row.put("state", "internal"); // the results schema's optional field; absent means carried
    }
    results.add(row);
    return this;
  }

  /** Optional top-level fields (e.g. "created", "app"); the schema's own keys cannot be replaced. */
  public BenchmarkReport put(String key, Object value) {
    if (key.equals("schema") || key.equals("version") || key.equals("device") || key.equals("results")) {
      throw new IllegalArgumentException(key + " is set by the report itself");
    }
    extra.put(key, value);
    return this;
  }

  public Map<String, Object> toMap() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("schema", SCHEMA);
    out.put("version", (long) VERSION);
    out.put("device", device);
    out.put("results", results);
    out.putAll(extra);
    return out;
  }

  public String toJson() {
    return Json.writePretty(toMap());
  }
}
