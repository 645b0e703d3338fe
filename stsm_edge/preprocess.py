"""THE frame preprocessing: one function shared by the runner, calibration, training and eval.

BGR (OpenCV) frame of any size -> float32 -> bilinear resize so the short side is `resize_short`
-> centre crop to `size` -> RGB -> scale to [0, 1] -> (x - mean) / std -> float32 (3, H, W).
Grayscale and BGRA frames are converted; anything else is refused with a one-line error. Camera
frames in YUV 4:2:0 (Android's YUV_420_888) enter through `yuv420_to_bgr`.

Everything is specified so another language can reproduce it to 1e-5 (the Android core does):
sizes round half up, the resize is plain bilinear with half-pixel centres on float32 pixels (no
8-bit fixed-point rounding; cv2.resize INTER_LINEAR on float32 computes the same), and YUV -> RGB is
full-range BT.601 (JFIF) in float.

Only the crop's pixels are computed: each output pixel reads two source rows x two source columns, so
those samples are gathered first (still 8-bit for a camera frame) and only they are widened to float32
and blended. That is the resize's own arithmetic at the pixels the crop keeps, not an approximation of
it, and a frame costs the same whatever its size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import cv2
import numpy as np
import torch

from stsm_edge.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessSpec:
    size: tuple[int, int] = (224, 224)  # (height, width) of the crop the model sees
    resize_short: int = 256
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    def to_dict(self) -> dict:
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: dict) -> "PreprocessSpec":
        return cls(tuple(data["size"]), int(data["resize_short"]), tuple(data["mean"]), tuple(data["std"]))

    @classmethod
    def for_size(cls, height: int, width: int) -> "PreprocessSpec":
        """The usual 256/224 resize-then-crop ratio, at any crop size."""
        return cls((height, width), round(min(height, width) * 256 / 224))


def to_bgr(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise InputError("frame is empty or not an image array")
    if frame.dtype != np.uint8:
        raise InputError(f"frame must be 8-bit (uint8), got {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise InputError(f"frame of shape {frame.shape} is not a grayscale, BGR or BGRA image")


def resized_shape(height: int, width: int, spec: PreprocessSpec) -> tuple[int, int]:
    """Short side to `resize_short`, aspect kept, never smaller than the crop; rounding half up."""
    scale = spec.resize_short / min(height, width)
    return (max(spec.size[0], math.floor(height * scale + 0.5)), max(spec.size[1], math.floor(width * scale + 0.5)))


def _axis(src: int, dst: int, first: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of outputs first .. first + count - 1 of a `src` -> `dst` bilinear resize
    along one axis, as cv2.resize INTER_LINEAR computes them: position (d + 0.5) * src / dst - 0.5 in
    float64 (a float32 position is off by up to 2e-5 after normalisation), weights 1 - f and f in float32,
    and outside the image the edge sample with weight 1. The Android core's `Preprocessor.axis` is this."""
    position = (np.arange(first, first + count) + 0.5) * (1.0 / (dst / src)) - 0.5
    index0 = np.floor(position).astype(np.int64)
    frac = (position - index0).astype(np.float32)
    outside = (index0 < 0) | (index0 >= src - 1)
    frac[outside] = 0.0
    index0 = np.clip(index0, 0, src - 1)
    return index0, np.minimum(index0 + 1, src - 1), 1.0 - frac, frac


@lru_cache(maxsize=32)
def _crop_sampling(height: int, width: int, spec: PreprocessSpec) -> tuple[np.ndarray, ...]:
    """For one frame size: a remap table gathering the crop's source samples (rows y0 then y1, columns x0
    then x1, so the gathered image is (2H, 2W)), horizontal weights repeated per channel, vertical weights.
    Cached: a stream has one frame size, and these never change (read-only, safe to share across threads)."""
    new_h, new_w = resized_shape(height, width, spec)
    crop_h, crop_w = spec.size
    y0, y1, ay, by = _axis(height, new_h, (new_h - crop_h) // 2, crop_h)
    x0, x1, ax, bx = _axis(width, new_w, (new_w - crop_w) // 2, crop_w)
    map_x, map_y = np.meshgrid(np.concatenate([x0, x1]), np.concatenate([y0, y1]))
    # Integer maps: INTER_NEAREST copies those pixels as they are. int16 is OpenCV's fastest map type;
    # float32 (exact up to 2**24) for frames too large for it.
    dtype = np.int16 if max(height, width) <= np.iinfo(np.int16).max else np.float32
    table = np.stack([map_x, map_y], axis=-1).astype(dtype)
    arrays = (table, np.repeat(ax, 3), np.repeat(bx, 3), ay[:, None], by[:, None])
    for array in arrays:
        array.flags.writeable = False
    return arrays


def resize_and_crop(frame: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Bilinear resize (float32, half-pixel centres) then the centred `size` crop; float32 out (H, W, 3), 0..255.

    Computed at the crop's pixels only: horizontal pass then vertical pass on the gathered samples, the
    same float32 operations cv2.resize does on a float32 frame (equal to it within 1e-6)."""
    crop_h, crop_w = spec.size
    table, ax, bx, ay, by = _crop_sampling(frame.shape[0], frame.shape[1], spec)
    samples = cv2.remap(np.ascontiguousarray(frame), table, None, cv2.INTER_NEAREST)
    samples = samples.reshape(2 * crop_h, 2 * crop_w * 3)
    # uint8 x float32 weights computes in float32 (each sample widened exactly), with no widened copy.
    rows = samples[:, : crop_w * 3] * ax
    rows += samples[:, crop_w * 3 :] * bx
    crop = rows[:crop_h] * ay
    crop += rows[crop_h:] * by
    return crop.reshape(crop_h, crop_w, 3)


def yuv420_to_bgr(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Full-range BT.601 YUV 4:2:0 planes (chroma at half resolution) -> float32 BGR, 0..255."""
    if y.ndim != 2 or u.shape != v.shape or u.shape != ((y.shape[0] + 1) // 2, (y.shape[1] + 1) // 2):
        raise InputError(f"YUV 4:2:0 planes of shapes {y.shape}, {u.shape}, {v.shape} do not fit together")
    # Each chroma sample covers a 2x2 block of luma (nearest neighbour, as Android's converters do).
    cu = np.repeat(np.repeat(u.astype(np.float32), 2, 0), 2, 1)[: y.shape[0], : y.shape[1]] - 128.0
    cv = np.repeat(np.repeat(v.astype(np.float32), 2, 0), 2, 1)[: y.shape[0], : y.shape[1]] - 128.0
    luma = y.astype(np.float32)
    bgr = np.stack([luma + 1.772 * cu, luma - 0.344136 * cu - 0.714136 * cv, luma + 1.402 * cv], axis=-1)
    return np.clip(bgr, 0.0, 255.0)


def normalize(crop_bgr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """BGR (H, W, 3) 0..255 -> RGB, / 255, (x - mean) / std, CHW float32 (3, H, W)."""
    # Planar first, then in place: whole contiguous planes per operation (broadcasting over a last axis of
    # 3 runs numpy's inner loop 3 elements at a time, several times slower); the same float32 operations.
    chw = np.array(crop_bgr.transpose(2, 0, 1)[::-1], dtype=np.float32, order="C")
    chw /= 255.0
    chw -= np.asarray(spec.mean, np.float32)[:, None, None]
    chw /= np.asarray(spec.std, np.float32)[:, None, None]
    return chw


def preprocess(frame: np.ndarray, spec: PreprocessSpec = PreprocessSpec()) -> np.ndarray:
    """One OpenCV frame -> the model's float32 (3, H, W) input."""
    return normalize(resize_and_crop(to_bgr(frame), spec), spec)


def preprocess_yuv420(y: np.ndarray, u: np.ndarray, v: np.ndarray, spec: PreprocessSpec = PreprocessSpec()) -> np.ndarray:
    """A camera frame's YUV 4:2:0 planes -> the model's float32 (3, H, W) input."""
    return normalize(resize_and_crop(yuv420_to_bgr(y, u, v), spec), spec)


def preprocess_tensor(frame: np.ndarray, spec: PreprocessSpec = PreprocessSpec()) -> torch.Tensor:
    """`preprocess` as a (1, 3, H, W) torch tensor."""
    return torch.from_numpy(preprocess(frame, spec)).unsqueeze(0)
