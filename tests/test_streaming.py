"""Frame-by-frame streaming equals the causal clip model, with the shift's memory as explicit state or kept inside."""

import numpy as np
import pytest
import torch
from small_models import SPEC, ForgetfulInternalStateModel, T, real_frames, small_causal_model

from stsm_edge.errors import InputError
from stsm_edge.models import stsm_mobilenet_v2, stsm_resnet50
from stsm_edge.streaming import InternalStateModel, initial_states, reset_states, state_spec, to_streaming


def stream_logits(model, frames):
    streaming = to_streaming(model)
    states = [s.to(frames.dtype) for s in initial_states(streaming, *frames.shape[-2:])]
    out = []
    with torch.no_grad():
        for t in range(frames.shape[0]):
            logits, *states = streaming(frames[t : t + 1], *states)
            out.append(logits[0])
    return torch.stack(out)


# A randomly initialised ResNet-50 has logits in the tens, where fp32's summation order alone (a batch
# of 16 frames vs one frame) moves the 6th digit; float64 shows the identity itself, to 1e-5 and far below.
@pytest.mark.parametrize("build, dtype", [(stsm_mobilenet_v2, torch.float32), (stsm_resnet50, torch.float64)],
                         ids=["mobilenet_v2", "resnet50"])
@pytest.mark.parametrize("size", [(224, 224), (160, 128)], ids=["224x224", "160x128"])
def test_sixteen_streamed_frames_equal_causal_clip(build, dtype, size):
    model = build(num_classes=10, n_segments=16, causal=True).eval().to(dtype)
    frames = torch.randn(16, 3, *size, dtype=dtype)
    with torch.no_grad():
        clip = model(frames.unsqueeze(0), return_frame_logits=True)[0]
    assert (stream_logits(model, frames) - clip).abs().max() <= 1e-5


def test_states_are_4d_and_named_per_site():
    model = stsm_mobilenet_v2(n_segments=8, causal=True)
    specs = state_spec(model, 224, 224)
    assert [s.name for s in specs][:2] == ["state_features_3", "state_features_5"]
    assert all(len(s.shape) == 4 and s.shape[0] == 1 for s in specs)
    assert specs[0].shape == (1, 24 // 8, 56, 56)
    assert sum(s.nbytes for s in specs) == 4 * sum(torch.Size(s.shape).numel() for s in specs)


def test_temporal_only_and_spatial_only_models():
    tsm = stsm_mobilenet_v2(num_classes=4, n_segments=5, dims="T", fold_div=8, causal=True, width_mult=0.35).eval()
    frames = torch.randn(5, 3, 64, 64)
    with torch.no_grad():
        assert (stream_logits(tsm, frames) - tsm(frames.unsqueeze(0), True)[0]).abs().max() <= 1e-5
    spatial = stsm_mobilenet_v2(num_classes=4, n_segments=5, dims="HW", width_mult=0.35).eval()
    assert state_spec(spatial, 64, 64) == []
    with torch.no_grad():
        assert (stream_logits(spatial, frames) - spatial(frames.unsqueeze(0), True)[0]).abs().max() <= 1e-5


def test_bidirectional_model_cannot_stream_and_the_error_says_what_to_do():
    with pytest.raises(InputError, match=r"needs a causal model.*stsm-edge distill.*--method tsm_online") as info:
        to_streaming(stsm_mobilenet_v2(causal=False))
    assert "\n" not in str(info.value)


def test_wrong_number_of_states_is_a_clear_error():
    streaming = to_streaming(stsm_mobilenet_v2(num_classes=3, causal=True, width_mult=0.35))
    with pytest.raises(ValueError, match="expected 10 states, got 0"):
        streaming(torch.randn(1, 3, 64, 64))


def test_streaming_model_exports():
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, causal=True, width_mult=0.35).eval()
    streaming = to_streaming(model)
    inputs = (torch.randn(1, 3, 64, 64), *initial_states(streaming, 64, 64))
    program = torch.export.export(streaming, inputs)
    got = program.module()(*inputs)
    want = streaming(*inputs)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert len(program.graph_signature.user_outputs) == 1 + len(inputs) - 1


# ---- the states kept inside: one frame in, logits out -------------------------------------------
# A random network's logits are ~1e-9 (small_models explains why), so these use the small model with O(1) logits
# on real frames: a wrong state then moves the logits far beyond the 1e-5 bar.

@pytest.fixture(scope="module")
def small():
    """(model, 16 real frames as a (16, 3, H, W) tensor, the causal clip model's per-frame logits)."""
    frames = real_frames(16)
    model = small_causal_model(frames).eval()
    stacked = torch.from_numpy(np.stack(frames))
    with torch.no_grad():
        clip = torch.cat([model(stacked[i : i + T].unsqueeze(0), return_frame_logits=True)[0]
                          for i in range(0, 16, T)])
    return model, stacked, clip


def internal_stream_logits(internal: InternalStateModel, frames: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([internal(frames[t : t + 1])[0] for t in range(frames.shape[0])])


def internal_form(model, size) -> InternalStateModel:
    streaming = to_streaming(model)
    return InternalStateModel(streaming, state_spec(streaming, *size)).eval()


def test_internal_states_stream_like_the_causal_clip_and_reset_starts_over(small):
    model, frames, clip = small
    internal = internal_form(model, SPEC.size)
    assert clip.abs().max() > 0.5
    streamed = []
    for start in range(0, 16, T):  # each T-frame clip a new stream
        internal.reset()
        streamed.append(internal_stream_logits(internal, frames[start : start + T]))
        assert (streamed[-1] - clip[start : start + T]).abs().max() <= 1e-5, start
    # Without a reset the stream goes on: the first clip again continues from the last clip's frames.
    assert (internal_stream_logits(internal, frames[:T]) - clip[:T]).abs().max() > 1e-2
    internal.reset()
    assert torch.equal(internal_stream_logits(internal, frames[:T]), streamed[0])


def test_a_model_that_never_writes_its_states_back_fails_the_clip_comparison(small):
    model, frames, clip = small
    streaming = to_streaming(model)
    forgetful = ForgetfulInternalStateModel(streaming, state_spec(streaming, *SPEC.size)).eval()
    got = torch.cat([internal_stream_logits(forgetful, frames[i : i + T]) for i in range(0, 16, T)])
    assert (got[0] - clip[0]).abs().max() <= 1e-5  # frame 0 reads the zero fill either way
    assert (got - clip).abs().max() > 1e-2


def test_internal_states_export_as_mutated_buffers_named_like_the_states():
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, causal=True, width_mult=0.35).eval()
    internal = internal_form(model, (64, 64))
    frame = torch.randn(1, 3, 64, 64)
    program = torch.export.export(internal, (frame,)).run_decompositions({})
    signature = program.graph_signature
    assert [spec.arg.name for spec in signature.input_specs if spec.kind.name == "USER_INPUT"] == ["frame"]
    assert sorted(signature.buffers_to_mutate.values()) == sorted(internal.state_names)
    assert len(signature.user_outputs) == 1
    assert all(float(getattr(internal, name).abs().sum()) == 0 for name in internal.state_names)  # export ran no frame
    graph = torch.export.export(internal, (frame,)).module()
    graph(frame)
    assert any(float(b.abs().sum()) > 0 for name, b in graph.named_buffers() if name in internal.state_names)
    reset_states(graph)  # reaches a graph's buffers by their names
    assert all(float(b.abs().sum()) == 0 for name, b in graph.named_buffers() if name in internal.state_names)
