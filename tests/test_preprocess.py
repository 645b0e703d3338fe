"""THE preprocessing against its contract: the crop-only computation `preprocess` does equals, within the
1e-5 the Android core is held to, the contract as written — bilinear resize of the whole frame in float32
(cv2.resize INTER_LINEAR, half-pixel centres), centre crop, RGB, / 255, (x - mean) / std, CHW."""

import cv2
import numpy as np
import pytest

from stsm_edge.app.golden import yuv_planes
from stsm_edge.assets import video_path
from stsm_edge.preprocess import PreprocessSpec, preprocess, preprocess_yuv420, resized_shape, to_bgr, yuv420_to_bgr
from stsm_edge.video import iter_video

TOLERANCE = 1e-5  # the Python <-> Java parity bound of the golden vectors
# The last crop keeps the whole resized frame (its width clamped up to the crop's), so the outermost outputs
# sample outside the image where a frame is upscaled: the edge rule is exercised.
SPECS = [PreprocessSpec.for_size(112, 112), PreprocessSpec(),
         PreprocessSpec((160, 128), 176, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)), PreprocessSpec((112, 200), 112)]
SPEC_IDS = ["112", "224", "160x128", "whole"]


def reference(image_bgr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """The contract computed the direct way: the whole frame widened to float32, resized, then cropped."""
    new_h, new_w = resized_shape(*image_bgr.shape[:2], spec)
    resized = cv2.resize(image_bgr.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = (new_h - spec.size[0]) // 2, (new_w - spec.size[1]) // 2
    crop = resized[top : top + spec.size[0], left : left + spec.size[1], ::-1] / 255.0
    chw = (crop - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return chw.transpose(2, 0, 1)


@pytest.fixture(scope="module")
def frames():
    """Real frames at their own sizes: 640x480 (cup.mp4, box.mp4) and 768x576 (vtest.avi)."""
    return [next(iter_video(video_path(name), max_frames=1)) for name in ("cup.mp4", "box.mp4", "vtest.avi")]


# Camera sizes, odd sizes, upscaling (short side below resize_short), extreme aspect ratios.
SIZES = [None, (479, 637), (1080, 1920), (120, 160), (113, 113), (64, 48), (40, 500), (500, 40)]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "native" if s is None else f"{s[0]}x{s[1]}")
def test_crop_only_preprocessing_equals_the_whole_frame_contract(frames, size, spec):
    for frame in frames:
        image = frame if size is None else cv2.resize(frame, size[::-1], interpolation=cv2.INTER_AREA)
        out = preprocess(image, spec)
        assert out.shape == (3, *spec.size) and out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_allclose(out, reference(image, spec), rtol=0, atol=TOLERANCE)


def test_gray_bgra_and_strided_frames_follow_the_contract(frames):
    spec = SPECS[0]
    frame = frames[0]
    for image in (cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA),
                  frame[:, ::2], frame[::-1]):  # views with a column step and a negative row step
        np.testing.assert_allclose(preprocess(image, spec), reference(to_bgr(np.ascontiguousarray(image)), spec),
                                   rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_yuv_frames_follow_the_contract(frames, spec):
    """The Android path (float BGR from YUV 4:2:0) goes through the same crop-only resize."""
    planes = yuv_planes(frames[0])
    np.testing.assert_allclose(preprocess_yuv420(*planes, spec), reference(yuv420_to_bgr(*planes), spec), rtol=0,
                               atol=TOLERANCE)
