package org.stsmedge.core;

/**
 * THE frame preprocessing of {@code stsm_edge/preprocess.py}, step for step, in float32:
 *
 * <ol>
 *   <li>YUV 4:2:0 to BGR: full-range BT.601 (JFIF) in float, each chroma sample covering a 2x2 luma
 *       block (nearest), clipped to [0, 255] ({@code yuv420_to_bgr});
 *   <li>optionally turned by the camera's rotation (90/180/270 clockwise; exact, before resizing);
 *   <li>bilinear resize so the short side is {@code resize_short} (sizes rounded half up, never below
 *       the crop) with half-pixel centres, horizontal pass then vertical pass in float32, as
 *       OpenCV's {@code cv2.resize(INTER_LINEAR)} does on float32 images;
 *   <li>centre crop (only the cropped outputs are computed; each is independent of the others);
 *   <li>BGR to RGB, {@code / 255}, {@code (x - mean) / std}, CHW.
 * </ol>
 *
 * <p>Golden vectors written by {@code stsm_edge.app.golden} keep this within 1e-5 of Python.
 * Instances keep their scratch buffers, so one instance per thread.
 */
public final class Preprocessor {
  private final PreprocessSpec spec;
  private float[] bgr = new float[0]; // HWC, after rotation
  private float[] rotated = new float[0];

  public Preprocessor(PreprocessSpec spec) {
    this.spec = spec;
  }

  public PreprocessSpec spec() {
    return spec;
  }

  /** Number of floats in one preprocessed frame (3 x H x W). */
  public int outputSize() {
    return 3 * spec.height * spec.width;
  }

  /** One camera frame to the model's float32 (3, H, W) input. {@code rotation}: 0, 90, 180 or 270 clockwise. */
  public float[] preprocess(YuvPlanes frame, int rotation) {
    float[] out = new float[outputSize()];
    preprocess(frame, rotation, out);
    return out;
  }

  public void preprocess(YuvPlanes frame, int rotation, float[] out) {
    int h = frame.height;
    int w = frame.width;
    bgr = ensure(bgr, 3 * h * w);
    yuv420ToBgr(frame, bgr);
    float[] image = bgr;
    if (rotation % 360 != 0) {
      rotated = ensure(rotated, 3 * h * w);
      int[] size = rotate(bgr, h, w, rotation, rotated);
      h = size[0];
      w = size[1];
      image = rotated;
    }
    resizeCropNormalize(image, h, w, spec, out);
  }

  private static float[] ensure(float[] buffer, int size) {
    return buffer.length >= size ? buffer : new float[size];
  }

  /** Full-range BT.601 YUV 4:2:0 to float BGR (HWC, 0..255). */
  public static void yuv420ToBgr(YuvPlanes f, float[] out) {
    for (int r = 0; r < f.height; r++) {
      int yRow = r * f.yRowStride;
      int cRow = (r >> 1) * f.uvRowStride;
      int o = r * f.width * 3;
      for (int c = 0; c < f.width; c++) {
        int ci = cRow + (c >> 1) * f.uvPixelStride;
        float luma = f.y[yRow + c] & 0xff;
        float cu = (float) (f.u[ci] & 0xff) - 128.0f;
        float cv = (float) (f.v[ci] & 0xff) - 128.0f;
        out[o++] = clip(luma + 1.772f * cu);
        out[o++] = clip(luma - 0.344136f * cu - 0.714136f * cv);
        out[o++] = clip(luma + 1.402f * cv);
      }
    }
  }

  private static float clip(float x) {
    return x < 0.0f ? 0.0f : (x > 255.0f ? 255.0f : x);
  }

  /**
   * Turns an HWC image {@code rotation} degrees clockwise (np.rot90(image, k=-rotation/90)) into
   * {@code out}; returns the new {height, width}.
   */
  public static int[] rotate(float[] src, int h, int w, int rotation, float[] out) {
    int turns = ((rotation % 360) + 360) % 360;
    if (turns % 90 != 0) {
      throw new IllegalArgumentException("rotation must be a multiple of 90 degrees, got " + rotation);
    }
    turns /= 90;
    int nh = turns % 2 == 0 ? h : w;
    int nw = turns % 2 == 0 ? w : h;
    for (int r = 0; r < nh; r++) {
      for (int c = 0; c < nw; c++) {
        int sr;
        int sc;
        switch (turns) {
          case 1: sr = h - 1 - c; sc = r; break; // clockwise 90
          case 2: sr = h - 1 - r; sc = w - 1 - c; break;
          case 3: sr = c; sc = w - 1 - r; break; // clockwise 270
          default: sr = r; sc = c;
        }
        int s = (sr * w + sc) * 3;
        int o = (r * nw + c) * 3;
        out[o] = src[s];
        out[o + 1] = src[s + 1];
        out[o + 2] = src[s + 2];
      }
    }
    return new int[] {nh, nw};
  }

  /**
   * Source index and weights of each output coordinate along one axis (half-pixel centres): source
   * position {@code (d + 0.5) * scale - 0.5} in double, {@code sx = floor}, weights {@code 1 - f, f}
   * in float32; outside the image the nearest edge sample with weight 1. (Checked against
   * cv2.resize INTER_LINEAR on float32 by the golden test: within 1e-6 after normalisation; a
   * float32 source position, as older OpenCV code reads, is off by up to 2e-5.)
   */
  static void axis(int srcSize, int dstSize, int first, int count, int[] index0, int[] index1, float[] w0, float[] w1) {
    double scale = 1.0 / ((double) dstSize / srcSize);
    for (int i = 0; i < count; i++) {
      int d = first + i;
      double position = (d + 0.5) * scale - 0.5;
      int sx = (int) Math.floor(position);
      float fx = (float) (position - sx);
      if (sx < 0) {
        fx = 0;
        sx = 0;
      }
      if (sx >= srcSize - 1) {
        fx = 0;
        sx = srcSize - 1;
      }
      index0[i] = sx;
      index1[i] = Math.min(sx + 1, srcSize - 1);
      w0[i] = 1.0f - fx;
      w1[i] = fx;
    }
  }

  /** Resize (float32 bilinear), centre crop, RGB, /255, (x - mean) / std, CHW into {@code out}. */
  public static void resizeCropNormalize(float[] image, int h, int w, PreprocessSpec spec, float[] out) {
    int[] resized = spec.resizedShape(h, w);
    int newH = resized[0];
    int newW = resized[1];
    int top = (newH - spec.height) / 2;
    int left = (newW - spec.width) / 2;
    int ch = spec.height;
    int cw = spec.width;
    int[] x0 = new int[cw];
    int[] x1 = new int[cw];
    float[] ax = new float[cw];
    float[] bx = new float[cw];
    axis(w, newW, left, cw, x0, x1, ax, bx);
    int[] y0 = new int[ch];
    int[] y1 = new int[ch];
    float[] ay = new float[ch];
    float[] by = new float[ch];
    axis(h, newH, top, ch, y0, y1, ay, by);
    // Horizontal pass on the source rows the crop needs, cached per source row (HWC, 3 channels).
    float[][] rows = new float[h][];
    float[] plane = out;
    int planeSize = ch * cw;
    for (int r = 0; r < ch; r++) {
      float[] row0 = horizontal(image, w, y0[r], x0, x1, ax, bx, rows);
      float[] row1 = horizontal(image, w, y1[r], x0, x1, ax, bx, rows);
      float b0 = ay[r];
      float b1 = by[r];
      for (int c = 0; c < cw; c++) {
        for (int k = 0; k < 3; k++) { // k: BGR channel
          float value = row0[c * 3 + k] * b0 + row1[c * 3 + k] * b1;
          int rgb = 2 - k;
          float x = value / 255.0f;
          plane[rgb * planeSize + r * cw + c] = (x - spec.mean[rgb]) / spec.std[rgb];
        }
      }
    }
  }

  private static float[] horizontal(float[] image, int w, int sy, int[] x0, int[] x1, float[] ax, float[] bx,
      float[][] cache) {
    float[] row = cache[sy];
    if (row != null) {
      return row;
    }
    row = new float[x0.length * 3];
    int base = sy * w * 3;
    for (int c = 0; c < x0.length; c++) {
      int s0 = base + x0[c] * 3;
      int s1 = base + x1[c] * 3;
      float a = ax[c];
      float b = bx[c];
      row[c * 3] = image[s0] * a + image[s1] * b;
      row[c * 3 + 1] = image[s0 + 1] * a + image[s1 + 1] * b;
      row[c * 3 + 2] = image[s0 + 2] * a + image[s1 + 2] * b;
    }
    cache[sy] = row;
    return row;
  }
}
