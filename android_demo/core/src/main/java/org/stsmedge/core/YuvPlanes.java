package org.stsmedge.core;

/**
 * A YUV 4:2:0 frame as Android's {@code YUV_420_888} describes it: three planes with their own row
 * strides, chroma at half resolution (ceil(h/2) x ceil(w/2)) with a pixel stride of 1 (I420) or 2
 * (NV12/NV21 interleaved). Sample (r, c) of a chroma plane is at {@code r * uvRowStride + c *
 * uvPixelStride}; the last row may be shorter than its stride, as in an ImageProxy's buffers.
 */
public final class YuvPlanes {
  public final int width;
  public final int height;
  public final byte[] y;
  public final int yRowStride;
  public final byte[] u;
  public final byte[] v;
  public final int uvRowStride;
  public final int uvPixelStride;

  public YuvPlanes(int width, int height, byte[] y, int yRowStride, byte[] u, byte[] v, int uvRowStride,
      int uvPixelStride) {
    if (width < 1 || height < 1) {
      throw new IllegalArgumentException("frame of " + width + "x" + height + " is empty");
    }
    int cw = chromaWidth(width);
    int ch = chromaHeight(height);
    if (yRowStride < width || uvPixelStride < 1 || uvRowStride < (cw - 1) * uvPixelStride + 1) {
      throw new IllegalArgumentException("YUV 4:2:0 strides do not fit a " + width + "x" + height + " frame");
    }
    if (y.length < (long) (height - 1) * yRowStride + width) {
      throw new IllegalArgumentException("Y plane has " + y.length + " bytes, too few for " + width + "x" + height);
    }
    long chromaNeeded = (long) (ch - 1) * uvRowStride + (long) (cw - 1) * uvPixelStride + 1;
    if (u.length < chromaNeeded || v.length < chromaNeeded) {
      throw new IllegalArgumentException("YUV 4:2:0 planes of " + y.length + ", " + u.length + ", " + v.length
          + " bytes do not fit together for " + width + "x" + height);
    }
    this.width = width;
    this.height = height;
    this.y = y;
    this.yRowStride = yRowStride;
    this.u = u;
    this.v = v;
    this.uvRowStride = uvRowStride;
    this.uvPixelStride = uvPixelStride;
  }

  /** Tightly packed I420 planes (row stride = width, chroma pixel stride 1). */
  public static YuvPlanes i420(int width, int height, byte[] y, byte[] u, byte[] v) {
    return new YuvPlanes(width, height, y, width, u, v, chromaWidth(width), 1);
  }

  public static int chromaWidth(int width) {
    return (width + 1) / 2;
  }

  public static int chromaHeight(int height) {
    return (height + 1) / 2;
  }
}
