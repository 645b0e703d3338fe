"""Loading weights: torchvision ImageNet, TSM checkpoints (offline and online-demo layouts), MMAction2
checkpoints, our own.

A checkpoint's layout is detected from its keys (or named), its keys are mapped onto torchvision's names
(the backbones use them) by that layout's key map, and loaded strictly: a mismatch is one error naming the
missing and unexpected keys. A classifier head of another size is left freshly initialised, and the load
report says so. The report also carries what the layout implies: the input preprocessing and label order.
"""

from __future__ import annotations

import logging
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from stsm_edge.assets import imagenet_labels, imagenet_weights_path, kinetics_labels
from stsm_edge.errors import InputError
from stsm_edge.fileio import file_sha256
from stsm_edge.models.mobilenet_v2 import INVERTED_RESIDUAL_SETTING
from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork, build_model
from stsm_edge.options import option
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.shift import PRESETS, ShiftConfig, preset_name
from stsm_edge.timebase import TimeStep

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "stsm-edge/checkpoint"
HEAD_KEYS = {"mobilenet_v2": "classifier.1", "resnet50": "fc"}


class WeightsError(InputError):
    """Weights that do not fit the model."""


@dataclass
class LoadReport:
    source: str
    layout: str  # the name of the Layout the keys were read as
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)  # the input the weights expect
    label_order: str = ""  # where the class indices come from
    replaced_head: bool = False
    notes: list[str] = field(default_factory=list)


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded with `weights_only` (no code from the file ever runs). Refusals are one
    sentence; PyTorch's own paragraph stays on the exception chain (shown with -v)."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder, not a checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing what it cannot read
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" in str(exc):  # torch's weights-only unpickler met a class or function it does not allow
            raise WeightsError(f"{path}: refusing to load: the file holds objects other than tensors "
                               "(a pickle that could run code)") from exc
        raise WeightsError(f"{path}: not a PyTorch checkpoint (an unreadable pickle)") from exc
    except Exception as exc:  # torch raises many types for a bad file; the user needs one line
        raise WeightsError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__})") from exc


KeyMap = tuple[tuple[str, str], ...]
"""Rules (regex, replacement) applied in order to every key, each to what the rules before it left; a key no
rule matches keeps its name. The `(\\w+)$` ends anchor a rule on the parameter name, so a key already renamed
(one more index before the parameter) is not renamed again by a later rule."""

# DataParallel's `module.`, TSM's TSN wrapper `base_model.`, and TSM's shift wrapping a conv as `<conv>.net`.
_TSM_WRAPPERS: KeyMap = ((r"^module\.", ""), (r"^base_model\.", ""), (r"\.net\.", "."))

# TSM's own MobileNetV2 keeps each block's layers in one flat Sequential (conv, bn, relu, ...) where torchvision
# groups conv+BN+ReLU6. Block 1 (expand ratio 1, the only such block) has no expansion conv.
_TSM_FLAT_MOBILENET_V2: KeyMap = (
    *_TSM_WRAPPERS,
    (r"^(features\.\d+\.conv)\.0\.(\w+)$", r"\1.0.0.\2"),  # every block opens with conv, BN
    (r"^(features\.\d+\.conv)\.1\.(\w+)$", r"\1.0.1.\2"),
    (r"^(features\.1\.conv)\.3\.(\w+)$", r"\1.1.\2"),  # block 1: the projection conv, BN
    (r"^(features\.1\.conv)\.4\.(\w+)$", r"\1.2.\2"),
    (r"^(features\.\d+\.conv)\.3\.(\w+)$", r"\1.1.0.\2"),  # other blocks: depthwise conv, BN ...
    (r"^(features\.\d+\.conv)\.4\.(\w+)$", r"\1.1.1.\2"),
    (r"^(features\.\d+\.conv)\.6\.(\w+)$", r"\1.2.\2"),  # ... then the projection conv, BN
    (r"^(features\.\d+\.conv)\.7\.(\w+)$", r"\1.3.\2"),
    (r"^classifier\.(weight|bias)$", r"classifier.1.\1"),  # the online demo's bare Linear
    (r"^new_fc\.", "classifier.1."),  # TSM's replaced classifier
)


def _mmaction2_block_numbers() -> tuple[KeyMap, int]:
    """MMAction2's `layerN.i` -> torchvision's `features.K` (layers 1..7 are the paper's stages of 1, 2, 3, 4,
    3, 3, 1 blocks), and K of the final 1x1 conv that follows them."""
    rules, index = [], 1
    for layer, (_, _, repeats, _) in enumerate(INVERTED_RESIDUAL_SETTING, start=1):
        for block in range(repeats):
            rules.append((rf"^layer{layer}\.{block}\.", f"features.{index}."))
            index += 1
    return tuple(rules), index


_MMACTION2_BLOCKS, _MMACTION2_LAST_FEATURE = _mmaction2_block_numbers()

# MMAction2 (mmcv) wraps every conv in a ConvModule: `<name>.conv`, `<name>.bn`.
_MMACTION2_MOBILENET_V2: KeyMap = (
    (r"^backbone\.", ""),
    (r"\.net\.", "."),  # the temporal shift wraps a residual block's first conv
    (r"^cls_head\.fc_cls\.", "classifier.1."),
    # A block's last ConvModule has no activation: torchvision keeps its conv and BN as two Sequential entries.
    (r"^(layer1\.0\.conv)\.1\.conv\.", r"\1.1."),  # layer1's block has no expansion conv
    (r"^(layer1\.0\.conv)\.1\.bn\.", r"\1.2."),
    (r"^(layer\d\.\d+\.conv)\.2\.conv\.", r"\1.2."),
    (r"^(layer\d\.\d+\.conv)\.2\.bn\.", r"\1.3."),
    # Every other ConvModule (conv, BN, ReLU6) is a torchvision ConvBNReLU6 Sequential.
    (r"\.conv\.(\w+)$", r".0.\1"),
    (r"\.bn\.(\w+)$", r".1.\1"),
    (r"^conv1\.", "features.0."),
    *_MMACTION2_BLOCKS,
    (r"^conv2\.", f"features.{_MMACTION2_LAST_FEATURE}."),
)

_MMACTION2_RESNET50: KeyMap = (
    (r"^backbone\.", ""),
    (r"\.net\.", "."),  # the temporal shift wraps each bottleneck's conv1
    (r"^cls_head\.fc_cls\.", "fc."),
    (r"^conv1\.conv\.", "conv1."),  # the stem
    (r"^conv1\.bn\.", "bn1."),
    (r"\.conv(\d)\.conv\.", r".conv\1."),
    (r"\.conv(\d)\.bn\.", r".bn\1."),
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
)

# MMAction2's ActionDataPreprocessor normalises 0-255 RGB with these; its TSM configs validate on the short side
# resized to 256 and a 224 centre crop. Divided by 255 they are ImageNet's 0-1 mean and std.
MMACTION2_MEAN_0_255 = (123.675, 116.28, 103.53)
MMACTION2_STD_0_255 = (58.395, 57.12, 57.375)
MMACTION2_PREPROCESS = PreprocessSpec((224, 224), 256, tuple(m / 255 for m in MMACTION2_MEAN_0_255),
                                      tuple(s / 255 for s in MMACTION2_STD_0_255))


@dataclass(frozen=True)
class Layout:
    """A checkpoint layout: how to recognise it, its keys mapped onto torchvision's per backbone, and what the
    weights imply about their input and classes (a checkpoint stores neither)."""

    name: str
    marker: str | None  # a key matching this regex identifies the layout; None: the fallback
    key_maps: dict[str, KeyMap]  # backbone -> rules
    preprocess: PreprocessSpec
    label_order: str


# In detection order: the first layout whose marker matches a key wins.
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    Layout("mmaction2", r"^backbone\.conv1\.conv\.weight$",
           {"mobilenet_v2": _MMACTION2_MOBILENET_V2, "resnet50": _MMACTION2_RESNET50}, MMACTION2_PREPROCESS,
           "line i of the dataset's MMAction2 label map (Kinetics-400: tools/data/kinetics/label_map_k400.txt)"),
    Layout("tsm-mobilenet_v2", r"(^|\.)features\.1\.conv\.3\.weight$",  # torchvision's block 1 ends at conv.2
           {"mobilenet_v2": _TSM_FLAT_MOBILENET_V2}, PreprocessSpec(),
           "line i of the category file TSM was trained with"),
    Layout("tsm", r"(^|\.)(base_model|new_fc)\.",
           {"mobilenet_v2": (*_TSM_WRAPPERS, (r"^new_fc\.", "classifier.1.")),
            "resnet50": (*_TSM_WRAPPERS, (r"^new_fc\.", "fc."))}, PreprocessSpec(),
           "line i of the category file TSM was trained with"),
    # Also stsm-edge's own files; `backbone.` prefixes a whole TemporalSegmentNetwork's state dict.
    Layout("torchvision", None,
           {backbone: ((r"^module\.", ""), (r"^backbone\.", "")) for backbone in HEAD_KEYS}, PreprocessSpec(),
           "ImageNet-1k order for a 1000-class head (stsm_edge.assets.imagenet_labels)"),
)}


def detect_layout(keys: list[str]) -> Layout:
    found = (layout for layout in LAYOUTS.values()
             if layout.marker is not None and any(re.search(layout.marker, key) for key in keys))
    return next(found, LAYOUTS["torchvision"])


def resolve_layout(name: str | None, keys: list[str]) -> Layout:
    """The layout called `name`, or the one detected from the keys."""
    if name is None:
        return detect_layout(keys)
    if name not in LAYOUTS:
        raise WeightsError(f"unknown checkpoint layout {name!r}; choose one of {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def apply_key_map(state: dict[str, Tensor], key_map: KeyMap) -> dict[str, Tensor]:
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in key_map]
    out = {}
    for key, value in state.items():
        for pattern, replacement in compiled:
            key = pattern.sub(replacement, key)
        out[key] = value
    return out


def load_state_dict(model: TemporalSegmentNetwork, state: dict[str, Tensor], source: str,
                    layout: str | None = None) -> LoadReport:
    """Load `state` strictly into the model's backbone, its keys read in `layout` (detected when None)."""
    backbone = model.backbone
    found = resolve_layout(layout, list(state))
    if model.config.backbone not in found.key_maps:
        raise WeightsError(f"{source}: the {found.name} layout holds {', '.join(found.key_maps)} weights, "
                           f"not {model.config.backbone}")
    state = apply_key_map(state, found.key_maps[model.config.backbone])
    own = backbone.state_dict()
    head = HEAD_KEYS[model.config.backbone]
    report = LoadReport(source, found.name, found.preprocess, found.label_order)
    head_weight = state.get(head + ".weight")
    if head_weight is not None and head_weight.shape != own[head + ".weight"].shape:
        state = {k: v for k, v in state.items() if not k.startswith(head + ".")}
        report.replaced_head = True
        report.notes.append(f"head of {head_weight.shape[0]} classes replaced by a new one of "
                            f"{own[head + '.weight'].shape[0]} (freshly initialised)")
    missing = sorted(set(own) - set(state) - ({head + ".weight", head + ".bias"} if report.replaced_head else set()))
    unexpected = sorted(set(state) - set(own))
    headless = set(missing) <= {head + ".weight", head + ".bias"}
    if head + ".weight" not in state and not report.replaced_head and headless:
        report.replaced_head, missing = True, []
        report.notes.append("checkpoint has no classifier head; the model keeps a freshly initialised one")
    if missing or unexpected:
        raise WeightsError(f"{source}: weights ({found.name} layout) do not fit {model.config.backbone}: "
                           f"missing keys {_names(missing)}; unexpected keys {_names(unexpected)}")
    shape_errors = [k for k, v in state.items() if v.shape != own[k].shape]
    if shape_errors:
        k = shape_errors[0]
        raise WeightsError(f"{source}: key {k} has shape {tuple(state[k].shape)}, the model expects "
                           f"{tuple(own[k].shape)}")
    backbone.load_state_dict(state, strict=not report.replaced_head)
    for note in report.notes:
        log.warning("%s: %s", source, note)
    return report


def _names(keys: list[str], limit: int = 6) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_weights(model: TemporalSegmentNetwork, source: str | Path, layout: str | None = None) -> LoadReport:
    """Load "imagenet" or a checkpoint file (torchvision, TSM, MMAction2 or stsm-edge) into `model`.

    `layout` names one of LAYOUTS; by default it is detected from the keys. The report names the layout and
    carries the preprocessing the weights expect: the file's own for an stsm-edge checkpoint, else the layout's."""
    if str(source) == "imagenet":
        if model.config.backbone != "mobilenet_v2":
            raise WeightsError("offline ImageNet weights ship for mobilenet_v2 only; pass a ResNet-50 file path")
        source = imagenet_weights_path()
    data = read_checkpoint(Path(source))
    own_preprocess = None
    if _is_own(data):
        own_preprocess = PreprocessSpec.from_dict(data["preprocess"]) if "preprocess" in data else None
    report = load_state_dict(model, state_dict_of(data, source), str(source), layout)
    report.preprocess = own_preprocess or report.preprocess
    return report


def _is_own(data: object) -> bool:
    return isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT


def state_dict_of(data: object, source: str | Path) -> dict[str, Tensor]:
    """The state dict inside a checkpoint: ours, TSM's {'epoch', 'arch', 'state_dict', 'best_prec1'}, MMAction2's
    {'meta', 'state_dict'}, or a bare one."""
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not data or not all(isinstance(v, Tensor) for v in data.values()):
        raise WeightsError(f"{source}: no state dict found in the checkpoint")
    return data


@dataclass
class ModelBundle:
    """A model with what running it needs: labels, its input preprocessing, and where it came from."""

    model: TemporalSegmentNetwork
    labels: list[str]
    preprocess: PreprocessSpec
    source: dict
    time_step: TimeStep | None = None  # the step between frames the model learnt; None when unknown


def on_cpu(tree):
    """`tree` (dicts, lists, tuples) with every tensor as a contiguous CPU copy: a checkpoint loads anywhere, the
    same whichever device and memory format trained it."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", memory_format=torch.contiguous_format)
    if isinstance(tree, dict):
        return {key: on_cpu(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(on_cpu(value) for value in tree)
    return tree


def save_checkpoint(model: TemporalSegmentNetwork, path: Path, labels: list[str] | None = None,
                    preprocess: PreprocessSpec = PreprocessSpec(), extra: dict | None = None,
                    time_step: TimeStep | None = None) -> None:
    """Our own checkpoint: the state dict plus everything needed to rebuild and run the model, in CPU tensors."""
    from stsm_edge.fileio import atomic_output

    payload = {"format": CHECKPOINT_FORMAT, "version": 1, "config": model.config.to_dict(),
               "state_dict": model.backbone.state_dict(), "labels": list(labels or []),
               "preprocess": preprocess.to_dict(), "time_step": time_step.to_dict() if time_step else None,
               **(extra or {})}
    with atomic_output(Path(path)) as tmp:
        torch.save(on_cpu(payload), tmp)


def pack_checkpoint(source: Path, target: Path, note: dict | None = None) -> Path:
    """An stsm-edge checkpoint with its float weights stored as fp16 and no optimizer state: half the size, for
    shipping. Loading casts back to the model's fp32 (`load_state_dict` copies into fp32 parameters)."""
    from stsm_edge.fileio import atomic_output

    data = read_checkpoint(Path(source))
    if not (isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT):
        raise WeightsError(f"{source}: not an stsm-edge checkpoint")
    data.pop("optimizer", None)
    data["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in data["state_dict"].items()}
    data.update(note or {})
    with atomic_output(Path(target)) as tmp:
        torch.save(data, tmp)
    return Path(target)


@dataclass(frozen=True)
class LoadOptions:
    """What a checkpoint from another tool (MMAction2, TSM, torchvision) does not record about itself, and the
    label list to use instead of a checkpoint's own. An stsm-edge checkpoint records its shift and segments."""

    shift: ShiftConfig | None = None  # default: the checkpoint's MMAction2 config if it has one, else `tsm`
    n_segments: int | None = None  # default: the checkpoint's MMAction2 config if it has one, else 8
    layout: str | None = None  # default: detected from the keys
    labels: Path | None = None  # a text file, one class name per line, line i naming class i


@dataclass(frozen=True)
class ForeignFlags:
    """LoadOptions as the command line gives them."""

    labels: str | None = option(None, "class names, one per line (default: the checkpoint's; Kinetics-400's for "
                                      "400 classes from another tool)")
    method: str | None = option(None, "the shift a checkpoint from another tool was trained with (default: its "
                                      "MMAction2 config, else tsm)", choices=tuple(PRESETS))
    segments: int | None = option(None, "its frames per clip (default: its MMAction2 config, else 8)")
    layout: str | None = option(None, "read its keys in this layout (default: detected)", choices=tuple(LAYOUTS))

    def load_options(self) -> LoadOptions:
        if self.segments is not None and self.segments < 1:
            raise WeightsError(f"--segments must be >= 1, got {self.segments}")
        return LoadOptions(shift=PRESETS[self.method] if self.method else None, n_segments=self.segments,
                           layout=self.layout, labels=Path(self.labels) if self.labels else None)


FOREIGN_DEFAULT_METHOD = "tsm"  # MMAction2's and TSM's published models: shift_div 8, bidirectional
FOREIGN_DEFAULT_SEGMENTS = 8
# The final layer each backbone has and the other does not, in torchvision's names (after the layout's key map).
BACKBONE_MARKERS = {"mobilenet_v2": "features.18.0.weight", "resnet50": "layer4.0.conv1.weight"}
KINETICS_400 = 400


def load_model(path: Path, options: LoadOptions = LoadOptions()) -> ModelBundle:
    """Rebuild a model (eval mode) with its labels and preprocessing, from an stsm-edge checkpoint or from a
    torchvision, TSM or MMAction2 one (see `LoadOptions` for what those leave unsaid)."""
    path = Path(path)
    data = read_checkpoint(path)
    bundle = _own_model(path, data, options) if _is_own(data) else _foreign_model(path, data, options)
    if options.labels is not None:
        bundle.labels = read_label_file(options.labels, bundle.model.config.num_classes)
    return bundle


def _own_model(path: Path, data: dict, options: LoadOptions) -> ModelBundle:
    given = [name for name, value in (("--method", options.shift), ("--segments", options.n_segments),
                                      ("--layout", options.layout)) if value is not None]
    if given:
        raise WeightsError(f"{path}: an stsm-edge checkpoint records its own model; {', '.join(given)} "
                           "apply to checkpoints from other tools")
    model = build_model(ModelConfig.from_dict(data["config"]))
    load_state_dict(model, data["state_dict"], str(path))
    labels = list(data.get("labels") or []) or [f"class_{i}" for i in range(model.config.num_classes)]
    preprocess = PreprocessSpec.from_dict(data["preprocess"]) if "preprocess" in data else PreprocessSpec()
    return ModelBundle(model.eval(), labels, preprocess, {"checkpoint": path.name, "sha256": file_sha256(path)},
                       TimeStep.from_dict(data.get("time_step")))


def _foreign_model(path: Path, data: object, options: LoadOptions) -> ModelBundle:
    state = state_dict_of(data, path)
    layout = resolve_layout(options.layout, list(state))
    backbone = next((name for name, key_map in layout.key_maps.items()
                     if BACKBONE_MARKERS[name] in apply_key_map(state, key_map)), None)
    if backbone is None:
        raise WeightsError(f"{path}: neither MobileNetV2 nor ResNet-50 weights in the {layout.name} layout")
    head = apply_key_map(state, layout.key_maps[backbone]).get(HEAD_KEYS[backbone] + ".weight")
    if head is None:
        raise WeightsError(f"{path}: no classifier head, so no classes to predict; fine-tune one with "
                           f"`stsm-edge train --pretrained {path}`")
    meta = data.get("meta") if isinstance(data, dict) else None
    recorded = mmaction2_recorded_model(meta)
    shift = options.shift or recorded.get("shift") or PRESETS[FOREIGN_DEFAULT_METHOD]
    n_segments = options.n_segments or recorded.get("n_segments") or FOREIGN_DEFAULT_SEGMENTS
    config = ModelConfig(backbone=backbone, num_classes=head.shape[0], n_segments=n_segments, dims=shift.dims,
                         fold_div=shift.fold_div, causal=shift.causal)
    model = build_model(config)
    report = load_state_dict(model, state, str(path), layout.name)
    labels = recorded.get("labels") or default_labels(config.num_classes, layout)
    how = "from its config" if "shift" in recorded and options.shift is None else \
        "as given" if options.shift else "the default for TSM and MMAction2 checkpoints; --method to change"
    log.info("%s: %s %s checkpoint, %d classes, %d segments, shift %s (%s)", path.name, report.layout, backbone,
             config.num_classes, n_segments, preset_name(shift), how)
    return ModelBundle(model.eval(), labels, report.preprocess,
                       {"checkpoint": path.name, "sha256": file_sha256(path), "layout": report.layout})


def mmaction2_recorded_model(meta: object) -> dict:
    """What an MMAction2 (MMEngine) checkpoint's `meta` says of its model: the config text MMEngine stores
    (`meta['cfg']`) gives `num_segments` and `shift_div`, and `meta['dataset_meta']['classes']` the labels."""
    if not isinstance(meta, dict):
        return {}
    found = {}
    cfg = meta.get("cfg")
    if isinstance(cfg, str):
        segments = re.search(r"\bnum_segments\s*=\s*(\d+)", cfg)
        shift_div = re.search(r"\bshift_div\s*=\s*(\d+)", cfg)
        if segments:
            found["n_segments"] = int(segments.group(1))
        if re.search(r"\bis_shift\s*=\s*False", cfg):
            found["shift"] = PRESETS["tsn"]
        elif shift_div and int(shift_div.group(1)) % 2 == 0:  # C/shift_div channels each way: a quarter at 8
            found["shift"] = ShiftConfig(dims="T", fold_div=int(shift_div.group(1)) // 2)
    classes = (meta.get("dataset_meta") or {}).get("classes") if isinstance(meta.get("dataset_meta"), dict) else None
    if isinstance(classes, (list, tuple)) and classes and all(isinstance(c, str) for c in classes):
        found["labels"] = list(classes)
    return found


def default_labels(num_classes: int, layout: Layout) -> list[str]:
    """Labels for a checkpoint that carries none: Kinetics-400's for 400 classes (MMAction2's and TSM's order,
    alphabetical), ImageNet's for a 1000-class torchvision head, else placeholder names."""
    if num_classes == KINETICS_400:
        labels = kinetics_labels()
        log.info("400 classes: Kinetics-400 labels in alphabetical order (MMAction2's and TSM's); --labels to change")
        return labels
    if num_classes == 1000 and layout.name == "torchvision":
        return imagenet_labels()
    log.warning("%d classes and no label list: classes are named class_0 ...; pass --labels FILE", num_classes)
    return [f"class_{i}" for i in range(num_classes)]


def read_label_file(path: Path, num_classes: int) -> list[str]:
    """One class name per line (blank lines skipped), line i naming class i; the count must match the head."""
    path = Path(path)
    try:
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path}: cannot read the label list ({type(exc).__name__})") from None
    if len(labels) != num_classes:
        raise WeightsError(f"{path}: {len(labels)} labels for a head of {num_classes} classes")
    return labels

