"""TSM's layouts (github.com/mit-han-lab/temporal-shift-module): the offline models (a TSN wrapper `base_model.`,
the shift wrapping a conv as `<conv>.net`, the replaced head `new_fc`) and the online demo's MobileNetV2 (flat
blocks, a bare Linear head, always the causal shift of C/8 channels from the previous frame)."""

from __future__ import annotations

from stsm_edge.architectures import PRESETS, RESNET_BACKBONES
from stsm_edge.checkpoints.files import KeyMap, Layout
from stsm_edge.preprocess import PreprocessSpec

LABEL_ORDER = "line i of the category file TSM was trained with"
_WRAPPERS: KeyMap = ((r"^base_model\.", ""), (r"\.net\.", "."))

# TSM's own MobileNetV2 keeps each block's layers in one flat Sequential (conv, bn, relu, ...) where torchvision
# groups conv+BN+ReLU6. Block 1 (expand ratio 1, the only such block) has no expansion conv.
_FLAT_MOBILENET_V2: KeyMap = (
    *_WRAPPERS,
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
_FLAT_BLOCK_1 = r"(^|\.)features\.1\.conv\.3\.weight$"  # torchvision's block 1 ends at conv.2

# The online demo (online_demo/mobilenet_v2_tsm.py) saves its bare MobileNetV2: flat blocks, no wrapper, and a
# bare `classifier` Linear. Its InvertedResidualWithShift reads the first C/8 channels from the previous frame.
TSM_ONLINE = Layout("tsm-online", (_FLAT_BLOCK_1, r"^classifier\.weight$"), {"mobilenet_v2": _FLAT_MOBILENET_V2},
                    PreprocessSpec(), LABEL_ORDER, shift=PRESETS["tsm_online"])
# Offline models: TemporalShift wraps a block's first conv as `<conv>.net` (TSM's `make_temporal_shift`), so the
# keys show which blocks shift; a TSN trained with TSM's code has no `.net`.
SHIFT_WRAPPER = r"\.net\."
TSM_MOBILENET_V2 = Layout("tsm-mobilenet_v2", (_FLAT_BLOCK_1,), {"mobilenet_v2": _FLAT_MOBILENET_V2},
                          PreprocessSpec(), LABEL_ORDER, shift_wrapper=SHIFT_WRAPPER)
TSM = Layout("tsm", (r"(^|\.)(base_model|new_fc)\.",),
             {"mobilenet_v2": (*_WRAPPERS, (r"^new_fc\.", "classifier.1.")),
              **{backbone: (*_WRAPPERS, (r"^new_fc\.", "fc.")) for backbone in RESNET_BACKBONES}},
             PreprocessSpec(), LABEL_ORDER, shift_wrapper=SHIFT_WRAPPER)
