package org.stsmedge.core;

import java.util.List;
import java.util.Map;

/** Mirror of {@code stsm_edge.preprocess.PreprocessSpec}: crop size (h, w), resize_short, mean, std. */
public final class PreprocessSpec {
  public final int height;
  public final int width;
  public final int resizeShort;
  public final float[] mean; // float32, as NumPy uses them
  public final float[] std;

  public PreprocessSpec(int height, int width, int resizeShort, double[] mean, double[] std) {
    if (height < 1 || width < 1 || resizeShort < 1) {
      throw new MetadataException("preprocess sizes must be positive");
    }
    if (mean.length != 3 || std.length != 3) {
      throw new MetadataException("preprocess mean and std need 3 values each");
    }
    this.height = height;
    this.width = width;
    this.resizeShort = resizeShort;
    this.mean = new float[3];
    this.std = new float[3];
    for (int c = 0; c < 3; c++) {
      if (!(std[c] != 0)) {
        throw new MetadataException("preprocess std must be non-zero");
      }
      this.mean[c] = (float) mean[c];
      this.std[c] = (float) std[c];
    }
  }

  /** The ImageNet defaults: 224 crop of a 256 short side. */
  public static PreprocessSpec imagenet(int height, int width, int resizeShort) {
    return new PreprocessSpec(height, width, resizeShort,
        new double[] {0.485, 0.456, 0.406}, new double[] {0.229, 0.224, 0.225});
  }

  /** From the sidecar's {@code preprocess} object ({@code size, resize_short, mean, std}). */
  public static PreprocessSpec fromJson(Map<String, Object> data) {
    List<?> size = asList(Json.require(data, "size", "preprocess"), "preprocess.size", 2);
    double[] mean = doubles(asList(Json.require(data, "mean", "preprocess"), "preprocess.mean", 3), "preprocess.mean");
    double[] std = doubles(asList(Json.require(data, "std", "preprocess"), "preprocess.std", 3), "preprocess.std");
    return new PreprocessSpec((int) Json.integer(size.get(0), "preprocess.size[0]"),
        (int) Json.integer(size.get(1), "preprocess.size[1]"),
        (int) Json.integer(Json.require(data, "resize_short", "preprocess"), "preprocess.resize_short"), mean, std);
  }

  private static List<?> asList(Object value, String what, int length) {
    if (!(value instanceof List) || ((List<?>) value).size() != length) {
      throw new MetadataException(what + " must be a list of " + length);
    }
    return (List<?>) value;
  }

  private static double[] doubles(List<?> values, String what) {
    double[] out = new double[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Json.number(values.get(i), what);
    }
    return out;
  }

  /** Short side to resize_short, aspect kept, never smaller than the crop, rounding half up: {h, w}. */
  public int[] resizedShape(int srcHeight, int srcWidth) {
    double scale = (double) resizeShort / Math.min(srcHeight, srcWidth);
    long h = (long) Math.floor(srcHeight * scale + 0.5);
    long w = (long) Math.floor(srcWidth * scale + 0.5);
    return new int[] {(int) Math.max(height, h), (int) Math.max(width, w)};
  }
}
