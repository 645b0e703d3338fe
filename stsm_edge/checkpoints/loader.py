"""The one loader: a checkpoint file of any layout becomes a model (built through stsm_edge.models), its labels
and preprocessing, and a description of what was inferred and where each part came from. A file that is not
stsm-edge's own is announced in one line at the default level, so a fallback is never silent."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from stsm_edge.architectures import PRESETS, ShiftConfig, preset_name
from stsm_edge.checkpoints.detect import resolve_layout
from stsm_edge.checkpoints.files import Layout, apply_key_map, read_checkpoint, state_dict_of
from stsm_edge.checkpoints.labels import default_labels, read_label_file
from stsm_edge.checkpoints.mmaction2 import recorded_model
from stsm_edge.checkpoints.own import is_own, own_record
from stsm_edge.console import note
from stsm_edge.errors import WeightsError
from stsm_edge.fileio import file_sha256
from stsm_edge.models import WEIGHTS, LoadReport, ModelConfig, TemporalSegmentNetwork, build_model, load_state_dict
from stsm_edge.models.resnet import RESNETS, Bottleneck
from stsm_edge.models.weights import HEAD_KEYS, load_registered
from stsm_edge.options import ForeignFlags
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.timebase import TimeStep

log = logging.getLogger(__name__)

# Where each inferred part came from.
FILE, CONFIG, FLAG, FALLBACK, MODEL = "file", "config", "flag", "fallback", "the model given"
FOREIGN_DEFAULT_METHOD = "tsm"  # MMAction2's and TSM's published offline models: shift_div 8, bidirectional
FOREIGN_DEFAULT_SEGMENTS = 8
MOBILENET_V2_MARKER = "features.18.0.weight"  # its final 1x1 conv, in torchvision's names
# ResNets by (bottleneck?, blocks per stage): the ones stsm-edge builds, and ResNet-152 to name it.
RESNET_DEPTHS = {(block is Bottleneck, layers): depth for depth, (block, layers) in RESNETS.items()} | \
    {(True, (3, 8, 36, 3)): 152}


@dataclass(frozen=True)
class Found:
    value: object
    source: str  # FILE, CONFIG, FLAG, FALLBACK or MODEL

    def shown(self, text: str, flag: str = "") -> str:
        """`text [source]`; a fallback says which flag sets it instead."""
        return f"{text} [{self.source}{f'; {flag} to change' if flag and self.source == FALLBACK else ''}]"


@dataclass(frozen=True)
class Inferred:
    """What a loaded checkpoint was taken to be, each part with where it came from."""

    name: str
    layout: Found
    backbone: Found
    classes: Found
    shift: Found  # a ShiftConfig
    n_segments: Found
    labels: Found  # a description of the label list
    preprocess: Found  # a PreprocessSpec

    def line(self) -> str:
        shift: ShiftConfig = self.shift.value
        spec: PreprocessSpec = self.preprocess.value
        shift_text = (f"shift {preset_name(shift)} (dims {shift.dims or '-'}, fold_div {shift.fold_div}, "
                      f"{'causal' if shift.causal else 'bidirectional'})") if shift.dims else "no shift (tsn)"
        mean = "ImageNet mean/std" if spec == PreprocessSpec(spec.size, spec.resize_short) else "own mean/std"
        return (f"{self.name}: " + ", ".join((
            self.layout.shown(f"layout {self.layout.value}"), self.backbone.shown(f"backbone {self.backbone.value}"),
            self.classes.shown(f"{self.classes.value} classes"), self.shift.shown(shift_text, "--method"),
            self.n_segments.shown(f"T {self.n_segments.value}", "--segments"),
            self.labels.shown(f"labels {self.labels.value}", "--labels"),
            self.preprocess.shown(f"preprocess short side {spec.resize_short}, crop {spec.size[0]}x{spec.size[1]}, "
                                  f"{mean}"))))

    def to_dict(self) -> dict:
        shift: ShiftConfig = self.shift.value
        values = {"layout": self.layout, "backbone": self.backbone, "classes": self.classes,
                  "shift": Found({"method": preset_name(shift), "dims": shift.dims, "fold_div": shift.fold_div,
                                  "causal": shift.causal}, self.shift.source),
                  "n_segments": self.n_segments, "labels": self.labels,
                  "preprocess": Found(self.preprocess.value.to_dict(), self.preprocess.source)}
        return {key: {"value": found.value, "from": found.source} for key, found in values.items()}


@dataclass
class ModelBundle:
    """A model with what running it needs: labels, its input preprocessing, and where it came from."""

    model: TemporalSegmentNetwork
    labels: list[str]
    preprocess: PreprocessSpec
    source: dict
    time_step: TimeStep | None = None  # the step between frames the model learnt; None when unknown
    inferred: Inferred | None = None  # what a foreign file was taken to be; None for stsm-edge's own


@dataclass(frozen=True)
class LoadOptions:
    """What a checkpoint from another tool (MMAction2, TSM, torchvision) does not record about itself, and the
    label list to use instead of a checkpoint's own. An stsm-edge checkpoint records its shift and segments."""

    shift: ShiftConfig | None = None  # default: the layout's or MMAction2 config's, else `tsm`
    n_segments: int | None = None  # default: the checkpoint's MMAction2 config if it has one, else 8
    layout: str | None = None  # default: detected from the keys
    labels: Path | None = None  # a text file, one class name per line, line i naming class i

    @classmethod
    def from_flags(cls, flags: ForeignFlags) -> LoadOptions:
        return cls(shift=PRESETS[flags.method] if flags.method else None, n_segments=flags.segments,
                   layout=flags.layout, labels=Path(flags.labels) if flags.labels else None)


RESNET_BLOCK = r"(?:^|\.)layer([1-4])\.(\d+)\.(conv\d|bn\d|downsample)\b"  # MMAction2's MobileNetV2 has layerN.i.conv


def resnet_blocks(keys: list[str], pattern: str = RESNET_BLOCK) -> dict[int, set[int]]:
    """stage -> indices of the ResNet blocks that the keys matching `pattern` belong to."""
    blocks: dict[int, set[int]] = {}
    for found in filter(None, (re.search(pattern, key) for key in keys)):
        blocks.setdefault(int(found.group(1)), set()).add(int(found.group(2)))
    return blocks


def resnet_depth(state: dict[str, Tensor]) -> int | None:
    """The depth of the ResNet whose weights these are (blocks per stage and block type), None if not a ResNet;
    0 for a ResNet of no depth torchvision names."""
    blocks = resnet_blocks(list(state))
    if set(blocks) != {1, 2, 3, 4}:
        return None
    bottleneck = any(re.search(r"(?:^|\.)layer[1-4]\.\d+\.conv3\.", key) for key in state)
    return RESNET_DEPTHS.get((bottleneck, tuple(len(blocks[stage]) for stage in (1, 2, 3, 4))), 0)


def resnet_backbone(state: dict[str, Tensor], source: str, layout: Layout) -> str | None:
    """The ResNet the weights are (None: not a ResNet), named in one line when stsm-edge does not build it."""
    depth = resnet_depth(state)
    if depth is None:
        return None
    if depth not in RESNETS:
        name = f"ResNet-{depth}" if depth else "a ResNet of a depth torchvision does not name"
        raise WeightsError(f"{source}: {layout.name} {name} weights; stsm-edge builds MobileNetV2 and "
                           f"ResNet-{'/'.join(map(str, RESNETS))}")
    return f"resnet{depth}"


def file_backbone(state: dict[str, Tensor], source: str, layout: Layout) -> str:
    """The backbone the weights are, named in one line when stsm-edge does not build it."""
    resnet = resnet_backbone(state, source, layout)
    if resnet is not None:
        return resnet
    mobilenet_v2 = layout.key_maps.get("mobilenet_v2")
    if mobilenet_v2 is not None and MOBILENET_V2_MARKER in apply_key_map(state, mobilenet_v2):
        return "mobilenet_v2"
    raise WeightsError(f"{source}: neither MobileNetV2 nor ResNet weights in the {layout.name} layout")


def check_architecture(state: dict[str, Tensor], source: str, layout: Layout, backbone: str) -> None:
    """One line naming the file's ResNet when it is not the model's backbone, instead of a list of unfitting keys
    (other mismatches are named key by key by the strict load)."""
    found = resnet_backbone(state, source, layout)
    if found is not None and found != backbone:
        raise WeightsError(f"{source}: {layout.name} {found} weights, and the model is {backbone}")


def shift_placement(state: dict[str, Tensor], layout: Layout) -> tuple[bool, int] | None:
    """Whether the file's blocks carry the shift and, for a ResNet, which of each stage's blocks do (1: all, 2:
    the first of every two, TSM's ResNet-101), read from the wrapper the shift leaves in the keys; None when the
    layout leaves no such trace."""
    if layout.shift_wrapper is None:
        return None
    wrapped = [key for key in state if re.search(layout.shift_wrapper, key)]
    if not wrapped:
        return False, 1
    blocks, shifted = resnet_blocks(list(state)), resnet_blocks(wrapped)
    every_other = {stage: {i for i in indices if i % 2 == 0} for stage, indices in blocks.items()}
    return True, 2 if blocks and shifted == every_other and shifted != blocks else 1


def load_weights(model: TemporalSegmentNetwork, source: str | Path, layout: str | None = None) -> LoadReport:
    """Load registered weights ("imagenet") or a checkpoint file (torchvision, TSM, MMAction2 or stsm-edge) into
    `model`. `layout` names one of LAYOUTS; by default it is detected from the keys. The report names the layout
    and carries the preprocessing the weights expect: the file's own for an stsm-edge checkpoint, else the
    layout's. A file that is not stsm-edge's own is announced in one line."""
    if str(source) in WEIGHTS:
        return load_registered(model, str(source))
    path = Path(source)
    data = read_checkpoint(path)
    state = state_dict_of(data, path)
    found = resolve_layout(layout, list(state))
    check_architecture(state, str(path), found, model.config.backbone)
    report = _load_mapped(model, state, str(path), found)
    if is_own(data):
        report.preprocess = own_record(data, path).preprocess
        return report
    config = model.config
    note(Inferred(path.name, Found(found.name, FLAG if layout else FILE), Found(config.backbone, MODEL),
                  Found(config.num_classes, MODEL), Found(ShiftConfig(config.dims, config.fold_div, config.causal),
                                                          MODEL),
                  Found(config.n_segments, MODEL), Found("of the model given", MODEL),
                  Found(report.preprocess, FILE)).line())
    return report


def _load_mapped(model: TemporalSegmentNetwork, state: dict[str, Tensor], source: str, layout: Layout) -> LoadReport:
    backbone = model.config.backbone
    if backbone not in layout.key_maps:
        raise WeightsError(f"{source}: the {layout.name} layout holds {', '.join(layout.key_maps)} weights, "
                           f"not {backbone}")
    report = load_state_dict(model, apply_key_map(state, layout.key_maps[backbone]), source, layout.name)
    report.preprocess, report.label_order = layout.preprocess, layout.label_order
    return report


def load_model(path: Path, options: LoadOptions = LoadOptions()) -> ModelBundle:
    """Rebuild a model (eval mode) with its labels and preprocessing, from an stsm-edge checkpoint or from a
    torchvision, TSM or MMAction2 one (see `LoadOptions` for what those leave unsaid)."""
    path = Path(path)
    data = read_checkpoint(path)
    return _own_model(path, data, options) if is_own(data) else _foreign_model(path, data, options)


def _own_model(path: Path, data: dict, options: LoadOptions) -> ModelBundle:
    given = [name for name, value in (("--method", options.shift), ("--segments", options.n_segments),
                                      ("--layout", options.layout)) if value is not None]
    if given:
        raise WeightsError(f"{path}: an stsm-edge checkpoint records its own model; {', '.join(given)} "
                           "apply to checkpoints from other tools")
    record = own_record(data, path)
    model = build_model(record.config)
    load_state_dict(model, state_dict_of(data, path), str(path))
    labels = read_label_file(options.labels, record.config.num_classes) if options.labels else \
        record.labels or [f"class_{i}" for i in range(record.config.num_classes)]
    return ModelBundle(model.eval(), labels, record.preprocess, {"checkpoint": path.name, "sha256": file_sha256(path)},
                       record.time_step)


def _foreign_model(path: Path, data: object, options: LoadOptions) -> ModelBundle:
    state = state_dict_of(data, path)
    layout = resolve_layout(options.layout, list(state))
    backbone = file_backbone(state, str(path), layout)
    head = apply_key_map(state, layout.key_maps[backbone]).get(HEAD_KEYS[backbone] + ".weight")
    if head is None:
        raise WeightsError(f"{path}: no classifier head, so no classes to predict; fine-tune one with "
                           f"`stsm-edge train --pretrained {path}`")
    recorded = recorded_model(data.get("meta") if isinstance(data, dict) else None)
    placement = shift_placement(state, layout)
    unshifted = PRESETS["tsn"] if placement and not placement[0] else None  # no wrapper in the keys: no shift
    shift = _pick(options.shift, layout.shift or unshifted, recorded.get("shift"), PRESETS[FOREIGN_DEFAULT_METHOD])
    n_segments = _pick(options.n_segments, None, recorded.get("n_segments"), FOREIGN_DEFAULT_SEGMENTS)
    model = build_model(ModelConfig(backbone=backbone, num_classes=head.shape[0], n_segments=n_segments.value,
                                    dims=shift.value.dims, fold_div=shift.value.fold_div, causal=shift.value.causal,
                                    shift_every=placement[1] if placement and backbone != "mobilenet_v2" else 1))
    report = _load_mapped(model, state, str(path), layout)
    labels, labels_found = _foreign_labels(options, recorded, head.shape[0], layout)
    inferred = Inferred(path.name, Found(layout.name, FLAG if options.layout else FILE), Found(backbone, FILE),
                        Found(head.shape[0], FILE), shift, n_segments, labels_found,
                        Found(report.preprocess, FILE))
    note(inferred.line())
    return ModelBundle(model.eval(), labels, report.preprocess,
                       {"checkpoint": path.name, "sha256": file_sha256(path), "layout": report.layout,
                        "inferred": inferred.to_dict()}, inferred=inferred)


def _pick(flag: object, layout: object, config: object, fallback: object) -> Found:
    """The first of what the user said, what the layout implies, what the file's config records, the fallback."""
    for value, source in ((flag, FLAG), (layout, FILE), (config, CONFIG)):
        if value is not None:
            return Found(value, source)
    return Found(fallback, FALLBACK)


def _foreign_labels(options: LoadOptions, recorded: dict, num_classes: int, layout: Layout) -> tuple[list[str], Found]:
    if options.labels is not None:
        return read_label_file(options.labels, num_classes), Found(str(options.labels), FLAG)
    if "labels" in recorded:
        return recorded["labels"], Found("the checkpoint's dataset_meta", CONFIG)
    labels, what = default_labels(num_classes, layout.name)
    if what.startswith("none"):  # the one case with no label list at all
        log.warning("%d classes and no label list: classes are named class_0 ...; pass --labels FILE", num_classes)
    return labels, Found(what, FALLBACK)
