package org.stsmedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Java preprocessing against Python's preprocess_yuv420 on a real video frame's YUV planes. */
public class PreprocessorGoldenTest {
  static final double TOLERANCE = 1e-5;

  private static YuvPlanes planes(Map<String, Object> all, String name) throws Exception {
    Map<String, Object> p = Golden.map(all.get(name));
    int w = Golden.integer(p.get("width"));
    int h = Golden.integer(p.get("height"));
    return YuvPlanes.i420(w, h, Golden.bytes("preprocess", (String) p.get("y")),
        Golden.bytes("preprocess", (String) p.get("u")), Golden.bytes("preprocess", (String) p.get("v")));
  }

  @Test
  public void matchesPythonWithin1e5() throws Exception {
    Map<String, Object> index = Golden.json("preprocess", "cases.json");
    Map<String, Object> allPlanes = Golden.map(index.get("planes"));
    List<Object> cases = Golden.list(index.get("cases"));
    assertTrue("golden preprocess cases", cases.size() >= 5);
    double worst = 0;
    for (Object item : cases) {
      Map<String, Object> c = Golden.map(item);
      PreprocessSpec spec = PreprocessSpec.fromJson(Golden.map(c.get("spec")));
      float[] expected = Golden.floats("preprocess", (String) c.get("expected"));
      List<Object> shape = Golden.list(c.get("expected_shape"));
      assertEquals(3, Golden.integer(shape.get(0)));
      assertEquals(spec.height, Golden.integer(shape.get(1)));
      assertEquals(spec.width, Golden.integer(shape.get(2)));
      float[] actual = new Preprocessor(spec).preprocess(planes(allPlanes, (String) c.get("planes")),
          Golden.integer(c.get("rotation")));
      assertEquals(expected.length, actual.length);
      double diff = 0;
      for (int i = 0; i < expected.length; i++) {
        diff = Math.max(diff, Math.abs((double) expected[i] - actual[i]));
      }
      System.out.println("GOLDEN preprocess " + c.get("name") + " max_abs_diff=" + diff);
      assertTrue(c.get("name") + ": max |java - python| = " + diff, diff <= TOLERANCE);
      worst = Math.max(worst, diff);
    }
    System.out.println("GOLDEN preprocess max_abs_diff=" + worst);
  }

  /** Android's planes have row padding and interleaved chroma (pixel stride 2): same tensor, bit for bit. */
  @Test
  public void stridedInterleavedPlanesGiveTheSameTensor() throws Exception {
    Map<String, Object> index = Golden.json("preprocess", "cases.json");
    Map<String, Object> allPlanes = Golden.map(index.get("planes"));
    for (String name : new String[] {"cup", "cup_odd"}) {
      YuvPlanes tight = planes(allPlanes, name);
      int w = tight.width;
      int h = tight.height;
      int cw = YuvPlanes.chromaWidth(w);
      int ch = YuvPlanes.chromaHeight(h);
      int yStride = w + 24;
      int uvStride = 2 * cw + 16;
      byte[] y = new byte[(h - 1) * yStride + w]; // last row unpadded, as in an ImageProxy
      for (int r = 0; r < h; r++) {
        System.arraycopy(tight.y, r * w, y, r * yStride, w);
      }
      // NV12-like: one buffer, V at offset +1 of U, both with pixel stride 2.
      byte[] uv = new byte[(ch - 1) * uvStride + 2 * cw];
      for (int r = 0; r < ch; r++) {
        for (int c = 0; c < cw; c++) {
          uv[r * uvStride + 2 * c] = tight.u[r * cw + c];
          uv[r * uvStride + 2 * c + 1] = tight.v[r * cw + c];
        }
      }
      byte[] u = java.util.Arrays.copyOfRange(uv, 0, uv.length - 1);
      byte[] v = java.util.Arrays.copyOfRange(uv, 1, uv.length);
      YuvPlanes strided = new YuvPlanes(w, h, y, yStride, u, v, uvStride, 2);
      Preprocessor pre = new Preprocessor(PreprocessSpec.imagenet(112, 112, 128));
      for (int rotation : new int[] {0, 90}) {
        assertArrayEquals(name, pre.preprocess(tight, rotation), pre.preprocess(strided, rotation), 0.0f);
      }
    }
  }

  @Test
  public void resizedShapeRoundsHalfUpAndNeverGoesBelowTheCrop() {
    PreprocessSpec spec = PreprocessSpec.imagenet(224, 224, 256);
    assertArrayEquals(new int[] {256, 341}, spec.resizedShape(480, 640));
    assertArrayEquals(new int[] {256, 455}, spec.resizedShape(720, 1280)); // 455.11
    assertArrayEquals(new int[] {256, 256}, spec.resizedShape(100, 100));
    PreprocessSpec odd = PreprocessSpec.imagenet(112, 112, 3);
    assertArrayEquals(new int[] {112, 112}, odd.resizedShape(2, 3)); // crop wins
    PreprocessSpec half = PreprocessSpec.imagenet(1, 1, 3);
    assertArrayEquals(new int[] {3, 5}, half.resizedShape(2, 3)); // 4.5 rounds up
  }

  @Test
  public void yuvOfGreyIsGreyAndColoursClip() {
    byte[] y = {(byte) 200, (byte) 200, (byte) 200, (byte) 200};
    byte[] grey = {(byte) 128};
    float[] out = new float[12];
    Preprocessor.yuv420ToBgr(YuvPlanes.i420(2, 2, y, grey, grey), out);
    for (float value : out) {
      assertEquals(200f, value, 0f);
    }
    byte[] blue = {(byte) 255};
    Preprocessor.yuv420ToBgr(YuvPlanes.i420(2, 2, y, blue, grey), out);
    assertEquals(255f, out[0], 0f); // B clipped
  }

  @Test(expected = IllegalArgumentException.class)
  public void planesThatDoNotFitAreRefused() {
    YuvPlanes.i420(4, 4, new byte[16], new byte[3], new byte[4]);
  }
}
