"""THE frame preprocessing: one function shared by the runner, calibration, training and eval.

BGR (OpenCV) frame of any size -> float32 -> bilinear resize so the short side is `resize_short`
-> centre crop to `size` -> RGB -> scale to [0, 1] -> (x - mean) / std -> float32 (3, H, W).
Grayscale and BGRA frames are converted; anything else is refused with a one-line error. Camera
frames in YUV 4:2:0 (Android's YUV_420_888) enter through `yuv420_to_bgr`.

Everything is specified so another language can reproduce it to 1e-5 (the Android core does):
sizes round half up, the resize is plain bilinear with half-pixel centres on float32 pixels (no
8-bit fixed-point rounding), and YUV -> RGB is full-range BT.601 (JFIF) in float.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

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


def resize_and_crop(frame: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Bilinear resize (float32, half-pixel centres) then the centred `size` crop; float32 out, 0..255."""
    new_h, new_w = resized_shape(*frame.shape[:2], spec)
    resized = cv2.resize(frame.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = (new_h - spec.size[0]) // 2, (new_w - spec.size[1]) // 2
    return resized[top : top + spec.size[0], left : left + spec.size[1]]


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
    rgb = crop_bgr[:, :, ::-1].astype(np.float32) / 255.0
    chw = (rgb - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(chw.transpose(2, 0, 1))


def preprocess(frame: np.ndarray, spec: PreprocessSpec = PreprocessSpec()) -> np.ndarray:
    """One OpenCV frame -> the model's float32 (3, H, W) input."""
    return normalize(resize_and_crop(to_bgr(frame), spec), spec)


def preprocess_yuv420(y: np.ndarray, u: np.ndarray, v: np.ndarray, spec: PreprocessSpec = PreprocessSpec()) -> np.ndarray:
    """A camera frame's YUV 4:2:0 planes -> the model's float32 (3, H, W) input."""
    return normalize(resize_and_crop(yuv420_to_bgr(y, u, v), spec), spec)


def preprocess_tensor(frame: np.ndarray, spec: PreprocessSpec = PreprocessSpec()) -> torch.Tensor:
    """`preprocess` as a (1, 3, H, W) torch tensor."""
    return torch.from_numpy(preprocess(frame, spec)).unsqueeze(0)
