package org.stsmedge.demo;

import androidx.camera.core.ImageProxy;
import java.nio.ByteBuffer;
import org.stsmedge.core.YuvPlanes;

/**
 * Copies a CameraX YUV_420_888 frame's three planes into reusable arrays and describes them (row and
 * pixel strides as the camera gives them) as the core's {@link YuvPlanes}. Used on the analysis thread only.
 */
final class ImageProxyPlanes {
  private byte[] y = new byte[0];
  private byte[] u = new byte[0];
  private byte[] v = new byte[0];

  YuvPlanes copy(ImageProxy image) {
    ImageProxy.PlaneProxy[] planes = image.getPlanes();
    if (planes.length != 3) {
      throw new IllegalArgumentException("expected a YUV_420_888 frame with 3 planes, got " + planes.length);
    }
    y = read(planes[0].getBuffer(), y);
    u = read(planes[1].getBuffer(), u);
    v = read(planes[2].getBuffer(), v);
    // YUV_420_888 guarantees U and V share row stride and pixel stride; Y's pixel stride is 1.
    return new YuvPlanes(image.getWidth(), image.getHeight(), y, planes[0].getRowStride(), u, v,
        planes[1].getRowStride(), planes[1].getPixelStride());
  }

  /** A frame that outlives the ImageProxy (the benchmark's input), with its own arrays. */
  static YuvPlanes snapshot(YuvPlanes f) {
    return new YuvPlanes(f.width, f.height, f.y.clone(), f.yRowStride, f.u.clone(), f.v.clone(), f.uvRowStride,
        f.uvPixelStride);
  }

  private static byte[] read(ByteBuffer buffer, byte[] reuse) {
    buffer.rewind();
    int n = buffer.remaining();
    byte[] out = reuse.length == n ? reuse : new byte[n];
    buffer.get(out, 0, n);
    return out;
  }
}
