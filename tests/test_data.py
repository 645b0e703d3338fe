"""Training data on real files: annotation lists, frame sampling, clip augmentation, the clip dataset.

Test videos are tiny MJPG files whose frame k is a uniform grey of level 20 * k, so the frames a clip
was built from can be read back from the clip itself.
"""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stsm_edge.data.annotations import VideoRecord, read_annotations, read_labels
from stsm_edge.data.augment import ClipAugment, label_swap_map
from stsm_edge.data.dataset import VideoClipDataset, make_loader
from stsm_edge.data.frame_cache import FrameCache
from stsm_edge.data.sampling import dense_indices, segment_indices
from stsm_edge.data.sources import read_frames
from stsm_edge.errors import InputError
from stsm_edge.preprocess import PreprocessSpec, preprocess

N_FRAMES, HEIGHT, WIDTH = 12, 48, 64
SPEC = PreprocessSpec.for_size(32, 32)


def grey_frames(n=N_FRAMES):
    return [np.full((HEIGHT, WIDTH, 3), 20 * k, np.uint8) for k in range(n)]


def write_video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (frames[0].shape[1], frames[0].shape[0]))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi", grey_frames())


@pytest.fixture
def frame_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(grey_frames()):
        cv2.imwrite(str(folder / f"img_{k:05d}.png"), frame)
    return folder


def grey_levels(clip):
    """Per-frame grey level (0..255) of a preprocessed clip (T, 3, H, W)."""
    mean, std = torch.tensor(SPEC.mean).view(3, 1, 1), torch.tensor(SPEC.std).view(3, 1, 1)
    return ((clip * std + mean) * 255).mean(dim=(1, 2, 3)).numpy()


# --- annotations -------------------------------------------------------------------------------------


def test_both_list_formats_comments_and_relative_paths(tmp_path):
    listing = tmp_path / "lists" / "train.txt"
    listing.parent.mkdir()
    listing.write_text("# path [num_frames] label\n\nvideos/a.mp4 3\n  \nframes/b 40 0\n/abs/c.avi 7\n")
    assert read_annotations(listing) == [
        VideoRecord(tmp_path / "lists" / "videos/a.mp4", 3),
        VideoRecord(tmp_path / "lists" / "frames/b", 0, 40),
        VideoRecord(Path("/abs/c.avi"), 7),
    ]
    assert read_annotations(listing, root=tmp_path / "data")[0].path == tmp_path / "data" / "videos/a.mp4"


@pytest.mark.parametrize("bad, message", [
    ("a.mp4", "expected 'path label' or 'path num_frames label', got 1 fields"),
    ("a.mp4 1 2 3", "expected 'path label' or 'path num_frames label', got 4 fields"),
    ("a.mp4 one", "label is not an integer"),
    ("a.mp4 1.5", "label is not an integer"),
    ("a.mp4 x 1", "num_frames is not an integer"),
    ("a.mp4 0 1", "num_frames must be >= 1"),
    ("a.mp4 -1", "label must be >= 0"),
])
def test_bad_line_names_file_and_line(tmp_path, bad, message):
    listing = tmp_path / "val.txt"
    listing.write_text(f"# header\nok.mp4 0\n\n{bad}\nok.mp4 1\n")
    with pytest.raises(InputError) as info:
        read_annotations(listing)
    assert str(info.value) == f"{listing}:4: {message}: {bad!r}"


def test_missing_and_empty_lists(tmp_path):
    with pytest.raises(InputError, match="nope.txt: no such annotation list"):
        read_annotations(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(InputError, match="empty.txt: no videos listed"):
        read_annotations(tmp_path / "empty.txt")


def test_read_labels(tmp_path):
    (tmp_path / "labels.txt").write_text("swipe left\n\nswipe right \n")
    assert read_labels(tmp_path / "labels.txt") == ["swipe left", "swipe right"]
    (tmp_path / "blank.txt").write_text("\n \n")
    for name, message in [("blank.txt", "no labels listed"), ("missing.txt", "no such label file")]:
        with pytest.raises(InputError, match=f"{name}: {message}"):
            read_labels(tmp_path / name)


# --- sampling ----------------------------------------------------------------------------------------


def test_segment_test_mode_takes_centres():
    assert segment_indices(16, 8, train=False).tolist() == [1, 3, 5, 7, 9, 11, 13, 15]
    assert segment_indices(12, 4, train=False).tolist() == [1, 4, 7, 10]
    assert segment_indices(3, 6, train=False).tolist() == [0, 0, 1, 1, 2, 2]  # short clip repeats frames
    assert segment_indices(1, 4, train=False).tolist() == [0, 0, 0, 0]
    assert segment_indices(16, 8, train=False).dtype == np.int64


def test_segment_train_mode_random_within_segments():
    draws = np.stack([segment_indices(24, 8, train=True, rng=np.random.default_rng(s)) for s in range(200)])
    offsets = draws - np.arange(8) * 3
    assert offsets.min() == 0 and offsets.max() == 2  # inside each 3-frame segment, every offset drawn
    assert all(set(offsets[:, t]) == {0, 1, 2} for t in range(8))
    a, b = (segment_indices(24, 8, train=True, rng=np.random.default_rng(7)) for _ in range(2))
    assert np.array_equal(a, b)
    short = segment_indices(3, 6, train=True, rng=np.random.default_rng(0))
    assert short.tolist() == [0, 0, 1, 1, 2, 2]  # each frame repeated evenly, as in test mode


def test_segment_rejects_empty_clip():
    with pytest.raises(ValueError):
        segment_indices(0, 8, train=False)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 400), st.integers(1, 64), st.booleans(), st.integers(0, 2**32 - 1))
def test_segment_indices_in_range_sorted(num_frames, n_segments, train, seed):
    idx = segment_indices(num_frames, n_segments, train=train, rng=np.random.default_rng(seed))
    assert len(idx) == n_segments and idx.min() >= 0 and idx.max() < num_frames
    assert np.all(np.diff(idx) >= 0)
    if num_frames >= n_segments:  # one frame from each segment: never the same frame twice
        assert np.all(np.diff(idx) > 0)


def test_dense_indices():
    assert dense_indices(20, 4, 2, train=False).tolist() == [6, 8, 10, 12]  # span 7 centred in 20
    assert dense_indices(5, 4, 2, train=False).tolist() == [0, 2, 4, 1]  # short clip wraps round
    starts = set()
    for seed in range(100):
        idx = dense_indices(20, 4, 2, train=True, rng=np.random.default_rng(seed))
        assert idx.dtype == np.int64 and np.all(np.diff(idx) == 2) and idx.min() >= 0 and idx.max() < 20
        starts.add(int(idx[0]))
    assert starts == set(range(14))
    with pytest.raises(ValueError):
        dense_indices(10, 4, 0, train=False)


# --- augmentation ------------------------------------------------------------------------------------


def coordinate_frames(n):
    """Frames whose blue/green channels hold the pixel's row/column: a crop tells where it came from."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    return [np.stack([rows, cols, np.full_like(rows, 50 * k)], axis=-1).astype(np.uint8) for k in range(n)]


def test_one_multiscale_crop_for_the_whole_clip():
    augment = ClipAugment(brightness=0, contrast=0, saturation=0)
    sides = {int(HEIGHT * s) for s in augment.scales}
    seen = set()
    for seed in range(60):
        frames = coordinate_frames(4)
        out, label = augment(frames, 3, np.random.default_rng(seed))
        h, w = out[0].shape[:2]
        top, left = int(out[0][0, 0, 0]), int(out[0][0, 0, 1])
        for k, crop in enumerate(out):
            assert crop.dtype == np.uint8 and np.array_equal(crop, frames[k][top : top + h, left : left + w])
        assert h in sides and w in sides and label == 3
        seen.add((h, w))
    assert len(seen) > 4  # several scales and aspect ratios drawn


def test_identical_frames_stay_identical_under_jitter():
    frame = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    changed = False
    for seed in range(10):
        out, _ = ClipAugment(flip_label_map={0: 1})([frame.copy() for _ in range(4)], 0, np.random.default_rng(seed))
        assert all(np.array_equal(o, out[0]) for o in out)
        changed |= not np.array_equal(out[0], frame[: out[0].shape[0], : out[0].shape[1]])
    assert changed


def half_white(size=32):
    frame = np.zeros((size, size, 3), np.uint8)
    frame[:, size // 2 :] = 255
    frame[0, 0] = 128  # not symmetric top/bottom either, so a wrong axis would show
    return frame


def test_flip_mirrors_frames_and_swaps_labels():
    augment = ClipAugment(scales=(1.0,), brightness=0, contrast=0, saturation=0, flip_label_map={0: 1, 1: 0})
    frame, flips = half_white(), 0
    for seed in range(40):
        out, label = augment([frame, frame], 0, np.random.default_rng(seed))
        flipped = label == 1
        flips += flipped
        assert all(np.array_equal(o, frame[:, ::-1] if flipped else frame) for o in out)
        _, other = augment([frame], 2, np.random.default_rng(seed))
        assert other == 2  # classes without a mirror image keep their label
    assert 5 < flips < 35


def test_no_flip_without_a_map():
    augment = ClipAugment(scales=(1.0,), brightness=0, contrast=0, saturation=0)
    frame = half_white()
    for seed in range(100):
        out, label = augment([frame], 0, np.random.default_rng(seed))
        assert label == 0 and np.array_equal(out[0], frame)


def test_label_swap_map():
    labels = ["swipe left", "swipe right", "swipe up", "swipe down", "no motion"]
    assert label_swap_map(labels, [("swipe left", "swipe right"), ("swipe down", "swipe up")]) == {
        0: 1, 1: 0, 2: 3, 3: 2}
    with pytest.raises(ValueError, match="'swipe sideways'"):
        label_swap_map(labels, [("swipe left", "swipe sideways")])
    with pytest.raises(ValueError, match="already paired"):
        label_swap_map(labels, [("swipe left", "swipe right"), ("swipe left", "swipe up")])


# --- dataset -----------------------------------------------------------------------------------------


def test_test_mode_clip_is_the_centre_frames(video, frame_folder):
    records = [VideoRecord(video, 5), VideoRecord(frame_folder, 2), VideoRecord(video, 1, num_frames=8)]
    data = VideoClipDataset(records, 4, SPEC, train=False)
    assert len(data) == 3
    for (clip, label), record, frames in zip(data, records, [[1, 4, 7, 10], [1, 4, 7, 10], [1, 3, 5, 7]]):
        assert clip.shape == (4, 3, 32, 32) and clip.dtype == torch.float32 and label == record.label
        np.testing.assert_allclose(grey_levels(clip), [20 * k for k in frames], atol=3)


def test_test_mode_equals_shared_preprocess(video):
    clip, _ = VideoClipDataset([VideoRecord(video, 0)], 4, SPEC, train=False, augment=ClipAugment())[0]
    frames = read_frames(video)  # augment is ignored outside training
    expected = np.stack([preprocess(frames[k], SPEC) for k in segment_indices(N_FRAMES, 4, train=False)])
    assert np.array_equal(clip.numpy(), expected)


def test_dense_sampling(video):
    clip, _ = VideoClipDataset([VideoRecord(video, 0)], 3, SPEC, train=False, sampling="dense", dense_stride=3)[0]
    np.testing.assert_allclose(grey_levels(clip), [20 * k for k in (2, 5, 8)], atol=3)


def test_train_items_reproducible_and_vary_by_epoch(video):
    data = VideoClipDataset([VideoRecord(video, 0)], 4, SPEC, train=True, augment=ClipAugment(), seed=3)
    first = data[0][0]
    assert torch.equal(first, data[0][0])
    data.set_epoch(1)
    assert not torch.equal(first, data[0][0])
    data.set_epoch(0)
    assert torch.equal(first, data[0][0])


def test_loader_with_workers_matches_in_process(video, frame_folder):
    records = [VideoRecord(video, 0), VideoRecord(frame_folder, 1), VideoRecord(video, 2)]
    data = VideoClipDataset(records, 2, PreprocessSpec.for_size(16, 16), train=True, augment=ClipAugment(), seed=1)
    data.set_epoch(2)
    batches = list(make_loader(data, 2, shuffle=False, workers=2))
    assert [b[0].shape for b in batches] == [(2, 2, 3, 16, 16), (1, 2, 3, 16, 16)]
    assert torch.cat([b[1] for b in batches]).tolist() == [0, 1, 2]
    assert torch.equal(torch.cat([b[0] for b in batches]), torch.stack([data[i][0] for i in range(3)]))
    assert len(make_loader(data, 2, shuffle=True)) == 1  # training drops the partial batch


def test_unreadable_video_names_the_file(tmp_path):
    (tmp_path / "broken.avi").write_bytes(b"not a video at all" * 10)
    for name in ("broken.avi", "missing.avi"):
        with pytest.raises(InputError, match=name):
            VideoClipDataset([VideoRecord(tmp_path / name, 0)], 4, SPEC, train=False)[0]


# --- the decoded-frame cache -------------------------------------------------------------------------

def test_frame_cache_gives_the_same_items_and_then_never_decodes(tmp_path, video, frame_folder):
    records = [VideoRecord(video, 0), VideoRecord(frame_folder, 1), VideoRecord(video, 2, num_frames=9)]
    cache = FrameCache(tmp_path / "cache")

    def datasets(**sampling):
        return [VideoClipDataset(records, 3, SPEC, train=True, augment=ClipAugment(), seed=5, frame_cache=frame_cache,
                                 **sampling) for frame_cache in (None, cache)]

    uncached, cached = datasets()
    # Timed sampling needs each video's frame rate, which the cache keeps (image folders have none).
    uncached_timed, cached_timed = (VideoClipDataset(records[::2], 3, SPEC, train=True, seed=5, frame_cache=c,
                                                     sampling="timed", step_seconds=0.2) for c in (None, cache))
    first = [uncached[i] for i in range(3)] + [uncached_timed[i] for i in range(2)]
    filled = [cached[i] for i in range(3)] + [cached_timed[i] for i in range(2)]
    assert len(list(cache.folder.glob("*.npy"))) == 3  # one entry per (video, frame cap)
    # The video's bytes destroyed, its size and modification time (the cache's key) kept: only the cache can serve it.
    stat = video.stat()
    video.write_bytes(bytes(stat.st_size))
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = [cached[i] for i in range(3)] + [cached_timed[i] for i in range(2)]
    for a, b, c in zip(first, filled, again):
        assert torch.equal(a[0], b[0]) and torch.equal(a[0], c[0]) and a[1] == b[1] == c[1]
    with pytest.raises(InputError, match="clip.avi"):
        uncached[0]  # sensitivity: without the cache, the video must be decoded


def test_a_changed_video_is_decoded_again(tmp_path, video):
    cache = FrameCache(tmp_path / "cache")
    before, _ = cache.read(video)
    write_video(video, grey_frames()[::-1])
    after, fps = cache.read(video)
    assert fps == 10 and not np.array_equal(np.asarray(before), np.asarray(after))
    assert np.array_equal(np.asarray(after), np.stack(read_frames(video)))
