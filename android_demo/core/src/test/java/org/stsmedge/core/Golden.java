package org.stsmedge.core;

import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

/** The golden files written by {@code python -m stsm_edge.app.golden DIR}; DIR comes from -Dgolden.dir. */
final class Golden {
  private Golden() {}

  static Path dir() {
    String dir = System.getProperty("golden.dir");
    if (dir == null || dir.isEmpty()) {
      fail("system property golden.dir is not set: write the golden files with "
          + "`python -m stsm_edge.app.golden DIR` and run with -Dgolden.dir=DIR (run_host_tests.sh does)");
    }
    Path path = Paths.get(dir);
    if (!Files.isRegularFile(path.resolve("index.json"))) {
      fail("golden.dir " + dir + " holds no index.json: not written by stsm_edge.app.golden");
    }
    return path;
  }

  static Path file(String... parts) {
    Path p = dir();
    for (String part : parts) {
      p = p.resolve(part);
    }
    return p;
  }

  static String text(String... parts) throws IOException {
    return new String(Files.readAllBytes(file(parts)), StandardCharsets.UTF_8);
  }

  static Map<String, Object> json(String... parts) throws IOException {
    return Json.parseObject(text(parts));
  }

  static byte[] bytes(String... parts) throws IOException {
    return Files.readAllBytes(file(parts));
  }

  static float[] floats(String... parts) throws IOException {
    ByteBuffer buffer = ByteBuffer.wrap(bytes(parts)).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[buffer.remaining() / 4];
    buffer.asFloatBuffer().get(out);
    return out;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    return (List<Object>) o;
  }

  static int integer(Object o) {
    return (int) Json.integer(o, "golden value");
  }

  static double number(Object o) {
    return Json.number(o, "golden value");
  }
}
