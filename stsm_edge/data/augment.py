"""Training augmentation on a clip's BGR uint8 frames, before the shared `preprocess`.

Every random choice is made once per clip and applied to all its frames: motion between frames is
the signal, so a crop or colour change that differed from frame to frame would add fake motion.
The output stays raw uint8 BGR at crop size; `stsm_edge.preprocess.preprocess` then resizes and
crops exactly as at inference, so training cannot drift from the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_GRAY_WEIGHTS = np.asarray([0.114, 0.587, 0.299], np.float32)  # BT.601 luma of B, G, R


@dataclass
class ClipAugment:
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)  # TSN's GroupMultiScaleCrop
    max_distort: int = 1  # crop width and height scales at most this many steps apart
    brightness: float = 0.2  # each jitter factor is drawn from [1 - x, 1 + x]
    contrast: float = 0.2
    saturation: float = 0.2
    flip_label_map: dict[int, int] | None = None  # None = never flip (flipping changes direction classes)

    def __post_init__(self) -> None:
        if not self.scales or not all(0.0 < s <= 1.0 for s in self.scales):
            raise ValueError("scales must be a non-empty list of values in (0, 1]")
        if self.max_distort < 0:
            raise ValueError("max_distort must be >= 0")
        if not all(0.0 <= x < 1.0 for x in (self.brightness, self.contrast, self.saturation)):
            raise ValueError("brightness, contrast and saturation must be in [0, 1)")

    def __call__(self, frames: list[np.ndarray], label: int, rng: np.random.Generator) -> tuple[list[np.ndarray], int]:
        frames = self._crop(frames, rng)
        frames = self._jitter(frames, rng)
        if self.flip_label_map is not None and rng.random() < 0.5:
            frames = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
            label = self.flip_label_map.get(label, label)
        return frames, label

    def _crop(self, frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """GroupMultiScaleCrop with a random offset: sides from short_side * scales, same box for all frames."""
        height, width = frames[0].shape[:2]
        sizes = [max(1, int(min(height, width) * s)) for s in self.scales]
        pairs = [(h, w) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= self.max_distort]
        crop_h, crop_w = pairs[rng.integers(len(pairs))]
        top, left = int(rng.integers(height - crop_h + 1)), int(rng.integers(width - crop_w + 1))
        return [f[top : top + crop_h, left : left + crop_w] for f in frames]

    def _jitter(self, frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Brightness, contrast, saturation (torchvision's definitions), one set of factors per clip."""
        b, c, s = (rng.uniform(1.0 - x, 1.0 + x) for x in (self.brightness, self.contrast, self.saturation))
        out = []
        for frame in frames:
            img = np.clip(frame.astype(np.float32) * b, 0, 255)  # towards black
            mean = (img @ _GRAY_WEIGHTS).mean()
            img = np.clip((img - mean) * c + mean, 0, 255)  # towards the frame's mean grey
            gray = (img @ _GRAY_WEIGHTS)[..., None]
            img = np.clip((img - gray) * s + gray, 0, 255)  # towards the pixel's grey
            out.append(np.rint(img).astype(np.uint8))
        return out


def label_swap_map(labels: list[str], pairs: list[tuple[str, str]]) -> dict[int, int]:
    """Symmetric class-index map for horizontal flips, e.g. [("Swiping Left", "Swiping Right")]."""
    index = {name: i for i, name in enumerate(labels)}
    swap: dict[int, int] = {}
    for a, b in pairs:
        for name in (a, b):
            if name not in index:
                raise ValueError(f"unknown label {name!r} in flip pair ({a!r}, {b!r})")
        i, j = index[a], index[b]
        if swap.get(i, j) != j or swap.get(j, i) != i:
            raise ValueError(f"label {a!r} or {b!r} is already paired with another label")
        swap[i], swap[j] = j, i
    return swap
