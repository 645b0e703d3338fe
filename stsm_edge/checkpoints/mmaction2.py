"""MMAction2's layout (mmcv ConvModules, `backbone.` / `cls_head.fc_cls.`), its preprocessing, and what the config
text MMEngine stores in a checkpoint's `meta` says of the model: shift or none, segments, class names."""

from __future__ import annotations

import re

from stsm_edge.architectures import PRESETS, RESNET_BACKBONES, ShiftConfig
from stsm_edge.checkpoints.files import KeyMap, Layout
from stsm_edge.models.mobilenet_v2 import INVERTED_RESIDUAL_SETTING
from stsm_edge.preprocess import PreprocessSpec


def _block_numbers() -> tuple[KeyMap, int]:
    """MMAction2's `layerN.i` -> torchvision's `features.K` (layers 1..7 are the paper's stages of 1, 2, 3, 4,
    3, 3, 1 blocks), and K of the final 1x1 conv that follows them."""
    rules, index = [], 1
    for layer, (_, _, repeats, _) in enumerate(INVERTED_RESIDUAL_SETTING, start=1):
        for block in range(repeats):
            rules.append((rf"^layer{layer}\.{block}\.", f"features.{index}."))
            index += 1
    return tuple(rules), index


_BLOCKS, _LAST_FEATURE = _block_numbers()

# MMAction2 (mmcv) wraps every conv in a ConvModule: `<name>.conv`, `<name>.bn`.
_MOBILENET_V2: KeyMap = (
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
    *_BLOCKS,
    (r"^conv2\.", f"features.{_LAST_FEATURE}."),
)

_RESNET: KeyMap = (
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

MMACTION2 = Layout("mmaction2", (r"^backbone\.conv1\.conv\.weight$",),
                   {"mobilenet_v2": _MOBILENET_V2, **{backbone: _RESNET for backbone in RESNET_BACKBONES}},
                   MMACTION2_PREPROCESS,
                   "line i of the dataset's MMAction2 label map (Kinetics-400: tools/data/kinetics/label_map_k400.txt)",
                   shift_wrapper=r"\.net\.")  # MMAction2's TemporalShift wraps a conv as `<conv>.net`, as TSM's


def _backbone_block(cfg: str) -> str:
    """The text of the config's `backbone=dict(...)` (up to its closing parenthesis), or "" if none."""
    start = re.search(r"\bbackbone\s*=\s*dict\(", cfg)
    if not start:
        return ""
    depth, end = 1, start.end()
    while end < len(cfg) and depth:
        depth += {"(": 1, ")": -1}.get(cfg[end], 0)
        end += 1
    return cfg[start.end():end]


def recorded_model(meta: object) -> dict:
    """What an MMAction2 (MMEngine) checkpoint's `meta` says of its model: the config text MMEngine stores
    (`meta['cfg']`) gives the shift (a TSM backbone's `shift_div`, or none: `is_shift=False` or a plain backbone
    such as TSN's `ResNet`), the segments (`num_segments`, else a TSN's `num_clips`), and
    `meta['dataset_meta']['classes']` the labels."""
    if not isinstance(meta, dict):
        return {}
    found = {}
    cfg = meta.get("cfg")
    if isinstance(cfg, str):
        backbone = _backbone_block(cfg)
        segments = re.search(r"\bnum_segments\s*=\s*(\d+)", cfg) or re.search(r"\bnum_clips\s*=\s*(\d+)", cfg)
        shift_div = re.search(r"\bshift_div\s*=\s*(\d+)", backbone)
        backbone_type = re.search(r"\btype\s*=\s*['\"](\w+)['\"]", backbone)
        if segments:
            found["n_segments"] = int(segments.group(1))
        shifted = backbone_type is not None and "TSM" in backbone_type.group(1)  # MobileNetV2TSM, ResNetTSM
        if backbone_type and (not shifted or re.search(r"\bis_shift\s*=\s*False", backbone)):
            found["shift"] = PRESETS["tsn"]
        elif shift_div and int(shift_div.group(1)) % 2 == 0:  # C/shift_div channels each way: a quarter at 8
            found["shift"] = ShiftConfig(dims="T", fold_div=int(shift_div.group(1)) // 2)
        elif shifted and not shift_div:  # MMAction2's TSM backbones default to shift_div=8
            found["shift"] = PRESETS["tsm"]
    dataset = meta.get("dataset_meta")
    classes = dataset.get("classes") if isinstance(dataset, dict) else None
    if isinstance(classes, (list, tuple)) and classes and all(isinstance(c, str) for c in classes):
        found["labels"] = list(classes)
    return found
