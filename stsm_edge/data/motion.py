"""A temporal-reasoning motion benchmark: Jester-like classes that no single frame can tell apart.

Each clip shows a real-image object (a patch of a scikit-image photo, rectangular so rotation is
visible) over a real-image background, both moving one way (the background less, as with parallax):
swipe left / right / up / down, zoom in / out, rotate clockwise / anticlockwise, or not at all. The
background's motion spreads the signal over the whole frame, which is what lets short CPU training
find it (measured on left vs right: with the object moving alone, 200 training clips stayed at chance
for 8 epochs and it took 2,000; with the background following, 200 clips reached 80%). Every appearance parameter (position at the
middle frame, size, angle, speed, background, distractors, camera jitter) is drawn from the same
distribution for every class, and each trajectory is symmetric about its middle frame, so a single
frame's distribution is the same for all classes: only the order of frames tells them apart. A
frame-averaging model (TSN) is therefore near chance, and a shift model has to use time.

Deterministic by seed: clip i of a split is drawn from `np.random.default_rng((seed, split, i))`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from stsm_edge.errors import InputError
from stsm_edge.fileio import atomic_output
from stsm_edge.options import FPS, ModelFlags, option

MOTION_CLASSES = (
    "swipe left", "swipe right", "swipe up", "swipe down", "zoom in", "zoom out",
    "rotate clockwise", "rotate anticlockwise", "no motion",
)
# A horizontal flip turns these into each other (training's flip augmentation swaps their labels).
FLIP_PAIRS = (("swipe left", "swipe right"), ("rotate clockwise", "rotate anticlockwise"))
SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1

# Photos inside the scikit-image wheel (no download): backgrounds and object textures.
IMAGES = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
          "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
          "retina.jpg", "rocket.jpg", "page.png", "color.png")


@dataclass(frozen=True)
class MotionSpec:
    """The rendering knobs; defaults give 128x128 clips of 16 frames at 12 fps.

    `frames` and `fps` define the clip and its motion (speeds below are per frame at `fps`). `render_fps`
    renders the same clips at another frame rate: the same trajectories sampled at other times over the
    same span, so one clip can be played at 12, 24, 30 or 60 fps.
    """

    size: int = ModelFlags.size.use("frame side in pixels").field(128)
    frames: int = option(16, "frames per clip at 12 fps (the motion's own rate)")
    fps: int = 12
    render_fps: float | None = FPS.use("render the same clips at this frame rate (default 12): same trajectories, "
                                       "same seconds").field(None)
    object_size: tuple[int, int] = (34, 54)  # long side of the object, px
    swipe_speed: tuple[float, float] = (2.5, 4.5)  # px per frame: a swipe crosses much of the view, as in Jester
    zoom_rate: tuple[float, float] = (1.06, 1.09)  # scale factor per frame
    rotate_speed: tuple[float, float] = (10.0, 18.0)  # degrees per frame
    camera_jitter: float = 1.5  # px, per-frame random walk step of the whole view
    background_follow: tuple[float, float] = (0.3, 0.8)  # the background moves along, less than the object (parallax)
    distractors: tuple[int, int] = (0, 2)
    noise: float = 3.0  # grey levels of Gaussian sensor noise

    def __post_init__(self) -> None:
        if self.frames < 2 or self.fps <= 0 or (self.render_fps is not None and self.render_fps <= 0):
            raise InputError("motion clips need at least 2 frames and frame rates > 0")

    @property
    def output_fps(self) -> float:
        return float(self.render_fps or self.fps)

    def frame_times(self) -> np.ndarray:
        """Each rendered frame's time, in frames at `fps` from the clip's middle: symmetric, and spanning
        the same seconds at any `render_fps` (equal to `arange(frames) - (frames - 1) / 2` at `fps`)."""
        ratio = self.fps / self.output_fps
        count = int(round((self.frames - 1) / ratio)) + 1
        return (np.arange(count) - (count - 1) / 2) * ratio


def load_images() -> list[np.ndarray]:
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    images = []
    for name in IMAGES:
        image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"scikit-image photo {name} not found in {folder}")
        images.append(image)
    return images


def _random_patch(image: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop of `image`, resized to (height, width)."""
    scale = rng.uniform(0.15, 0.5)
    crop_h = max(8, int(image.shape[0] * scale))
    crop_w = max(8, min(image.shape[1], int(crop_h * width / height)))
    top = rng.integers(0, image.shape[0] - crop_h + 1)
    left = rng.integers(0, image.shape[1] - crop_w + 1)
    return cv2.resize(image[top:top + crop_h, left:left + crop_w], (width, height), interpolation=cv2.INTER_AREA)


def _textured_object(images: list[np.ndarray], long_side: int, rng: np.random.Generator) -> np.ndarray:
    """A rectangular object with a coloured frame, so its edges and orientation stand out on any background."""
    aspect = rng.uniform(1.4, 2.0)
    height, width = max(8, int(long_side / aspect)), long_side
    patch = _random_patch(images[rng.integers(len(images))], height, width, rng)
    border = max(2, long_side // 14)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    cv2.rectangle(patch, (0, 0), (width - 1, height - 1), colour, border)
    # A corner mark breaks the rectangle's 180-degree symmetry.
    cv2.rectangle(patch, (0, 0), (width // 4, height // 3), colour, -1)
    return patch


def _paste(canvas: np.ndarray, patch: np.ndarray, centre: tuple[float, float], scale: float, angle: float) -> None:
    """Draw `patch` onto `canvas` (in place), centred at `centre`, scaled and rotated (degrees, anticlockwise)."""
    h, w = patch.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += np.asarray(centre) - np.asarray((w / 2, h / 2))
    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpAffine(patch, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)


def _moved(image: np.ndarray, dx: float, dy: float, scale: float, angle: float) -> np.ndarray:
    """`image` shifted, scaled and rotated about its centre; borders mirror so no empty corner gives the motion away."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _trajectory(label: str, steps: np.ndarray, spec: MotionSpec, rng: np.random.Generator):
    """(dx, dy, scale factor, angle) at `steps` (frames at `spec.fps` from the middle frame), relative to the
    middle frame; symmetric in time by design."""
    dx = dy = np.zeros(len(steps))
    log_scale = angle = np.zeros(len(steps))
    if label.startswith("swipe"):
        speed = rng.uniform(*spec.swipe_speed)
        sign = -1.0 if label.endswith(("left", "up")) else 1.0
        if label.endswith(("left", "right")):
            dx = sign * speed * steps
        else:
            dy = sign * speed * steps
    elif label.startswith("zoom"):
        rate = math.log(rng.uniform(*spec.zoom_rate))
        log_scale = (rate if label == "zoom in" else -rate) * steps
    elif label.startswith("rotate"):
        # OpenCV's positive angle turns anticlockwise on screen.
        speed = rng.uniform(*spec.rotate_speed)
        angle = (-speed if label == "rotate clockwise" else speed) * steps
    return dx, dy, np.exp(log_scale), angle


def render_clip(label: str, images: list[np.ndarray], rng: np.random.Generator,
                spec: MotionSpec = MotionSpec()) -> list[np.ndarray]:
    """The BGR frames of one clip of class `label`."""
    if label not in MOTION_CLASSES:
        raise ValueError(f"unknown motion class {label!r}")
    margin = math.ceil(spec.camera_jitter * spec.frames) + 2
    view = spec.size + 2 * margin
    background = _random_patch(images[rng.integers(len(images))], view, view, rng)
    background = cv2.convertScaleAbs(background, alpha=rng.uniform(0.6, 1.0), beta=rng.uniform(0, 40))
    thing = _textured_object(images, int(rng.integers(*spec.object_size)), rng)
    centre = rng.uniform(0.3, 0.7, 2) * spec.size + margin
    base_angle = rng.uniform(0, 360)
    times = spec.frame_times()
    dx, dy, scale, angle = _trajectory(label, times, spec, rng)
    distractors = [(_textured_object(images, int(rng.integers(10, 18)), rng), rng.uniform(0.1, 0.9, 2) * view,
                    rng.uniform(0, 360)) for _ in range(rng.integers(spec.distractors[0], spec.distractors[1] + 1))]
    # The camera's random walk is drawn at `fps` and interpolated, so every frame rate films the same shake.
    walk = np.cumsum(rng.normal(0, spec.camera_jitter, (spec.frames, 2)), axis=0)
    walk -= walk[spec.frames // 2]
    walk_at = times + (spec.frames - 1) / 2
    camera = np.stack([np.interp(walk_at, np.arange(spec.frames), walk[:, axis]) for axis in (0, 1)], axis=1)
    follow = rng.uniform(*spec.background_follow)
    frames = []
    for t in range(len(times)):
        canvas = _moved(background, follow * dx[t], follow * dy[t], float(scale[t]) ** follow, follow * angle[t])
        for patch, position, turn in distractors:  # distractors wobble in place, with no direction
            _paste(canvas, patch, tuple(position + rng.normal(0, 1.0, 2)), 1.0, turn + rng.normal(0, 3.0))
        _paste(canvas, thing, (centre[0] + dx[t], centre[1] + dy[t]), float(scale[t]), base_angle + angle[t])
        ox, oy = np.clip(np.rint(margin + camera[t]), 0, 2 * margin).astype(int)
        frame = canvas[oy:oy + spec.size, ox:ox + spec.size].astype(np.float32)
        frame += rng.normal(0, spec.noise, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise InputError(f"OpenCV cannot write mp4 video to {path}")
    for frame in frames:
        writer.write(frame)
    writer.release()


def split_sizes(clips_per_class: int) -> dict[str, int]:
    """Clips per class in each split: `clips_per_class` for train, a quarter of it (at least 2) for val and test."""
    held_out = max(2, clips_per_class // 4)
    return {"train": clips_per_class, "val": held_out, "test": held_out}


def make_motion_data(out: Path, seed: int = 0, clips_per_class: int = 100, spec: MotionSpec = MotionSpec(),
                     progress=None, splits: tuple[str, ...] = SPLITS) -> Path:
    """Write train/val/test videos, `train.txt`/`val.txt`/`test.txt` (`path num_frames label`) and `labels.txt`.

    `splits` limits which splits are rendered; a clip is the same whichever others are. The whole folder
    appears at once (written beside `out`, then renamed), so a stopped run leaves nothing.
    """
    if clips_per_class < 1:
        raise InputError("--clips-per-class must be >= 1")
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise InputError(f"unknown split {unknown[0] if unknown else '(none)'}; choose from {', '.join(SPLITS)}")
    out = Path(out)
    images = load_images()
    sizes = split_sizes(clips_per_class)
    total = sum(sizes[split] for split in splits) * len(MOTION_CLASSES)
    with atomic_output(out) as tmp:
        done = 0
        for split_index, split in enumerate(SPLITS):
            if split not in splits:
                continue
            (tmp / "videos" / split).mkdir(parents=True)
            lines = []
            for i in range(sizes[split] * len(MOTION_CLASSES)):
                label = i % len(MOTION_CLASSES)
                rng = np.random.default_rng((seed, split_index, i))
                frames = render_clip(MOTION_CLASSES[label], images, rng, spec)
                relative = f"videos/{split}/{i:05d}_{MOTION_CLASSES[label].replace(' ', '_')}.mp4"
                write_video(tmp / relative, frames, spec.output_fps)
                lines.append(f"{relative} {len(frames)} {label}")
                done += 1
                if progress:
                    progress(done, total)
            (tmp / f"{split}.txt").write_text("\n".join(lines) + "\n")
        (tmp / "labels.txt").write_text("\n".join(MOTION_CLASSES) + "\n")
        (tmp / "meta.json").write_text(json.dumps({
            "benchmark": "stsm-edge motion", "version": FORMAT_VERSION, "seed": seed,
            "clips_per_class": sizes, "spec": spec.__dict__, "flip_pairs": FLIP_PAIRS}, indent=2, default=list))
    return out


def motion_data_summary(out: Path, clips_per_class: int, splits) -> str:
    sizes = split_sizes(clips_per_class)
    listed = ", ".join(f"{split}.txt ({sizes[split] * len(MOTION_CLASSES)} clips)" for split in splits)
    return f"wrote {out}: {listed}, labels.txt"
