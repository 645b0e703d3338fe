"""Where fitting runs: the device and backend resolver (torchrun with and without GPUs, as pure inputs), autocast
and channels-last on the CPU (a train step, a distill step with frozen BatchNorm, the shift), checkpoints in CPU
tensors, each bad device flag as one line with no run folder, and on a CUDA host a few real steps on the GPU."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_shift import reference_shift

from stsm_edge.checkpoints import load_model, read_checkpoint, save_checkpoint
from stsm_edge.data.motion import MotionSpec, make_motion_data
from stsm_edge.errors import InputError
from stsm_edge.fit.config import DistillConfig, TrainConfig
from stsm_edge.fit.device import Accelerator, Launch, Placement, place
from stsm_edge.fit.distill import distill, distillation
from stsm_edge.fit.train import make_optimizer, set_learning_rate, train, train_step
from stsm_edge.models import build_model
from stsm_edge.options import DeviceConfig
from stsm_edge.shift import spatiotemporal_shift

TINY = dict(n_segments=4, size=32, width_mult=0.35, pretrained="none", batch_size=4, workers=0)
CHECK_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def torchrun_env(local_rank: int, local_world: int, nodes: int = 1) -> dict:
    world = local_world * nodes
    return {"RANK": str(local_rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(local_rank),
            "LOCAL_WORLD_SIZE": str(local_world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


# ---- the resolver: a pure function of the request, the environment and the GPU count ------------------------

@pytest.mark.parametrize("requested, env, gpus, device, backend", [
    ("auto", {}, 0, "cpu", "gloo"),
    ("auto", {}, 2, "cuda:0", "nccl"),
    ("cpu", {}, 2, "cpu", "gloo"),
    ("cuda", {}, 1, "cuda:0", "nccl"),
    ("cuda:1", {}, 2, "cuda:1", "nccl"),
    ("auto", torchrun_env(1, 2), 2, "cuda:1", "nccl"),  # each rank its LOCAL_RANK's GPU
    ("cuda", torchrun_env(3, 4, nodes=2), 4, "cuda:3", "nccl"),
    ("auto", torchrun_env(1, 2), 0, "cpu", "gloo"),  # torchrun on a machine with no GPU
    ("cpu", torchrun_env(1, 4), 4, "cpu", "gloo"),  # --device cpu on a GPU host still works, with gloo
    ("cuda:0", torchrun_env(0, 1), 2, "cuda:0", "nccl"),  # one rank per node may pick its GPU
])
def test_place_follows_the_device_and_the_launcher(requested, env, gpus, device, backend):
    placement = place(requested, env, gpus)
    assert (placement.device, placement.backend) == (device, backend)
    assert placement.launch.launched == bool(env)


def test_launch_reads_torchruns_variables():
    assert Launch.from_env(torchrun_env(1, 2, nodes=3)) == Launch(1, 6, 1, 2, True)
    assert Launch.from_env({"WORLD_SIZE": "4"}) == Launch()  # not a launcher's process without LOCAL_RANK


@pytest.mark.parametrize("requested, env, gpus, flag, words", [
    ("tpu", {}, 1, "--device", "unknown device"),
    ("cuda:x", {}, 1, "--device", "unknown device"),
    ("cuda", {}, 0, "--device cuda", "no CUDA"),
    ("cuda:0", {}, 0, "--device cuda:0", "no CUDA"),
    ("cuda:2", {}, 2, "--device cuda:2", "out of range"),
    ("auto", torchrun_env(0, 4), 2, "--device auto", "4 ranks on this node but 2 GPU"),
    ("cuda", torchrun_env(0, 2), 1, "--device cuda", "NCCL needs one GPU per rank"),
    ("cuda:0", torchrun_env(0, 2), 2, "--device cuda:0", "one GPU"),
])
def test_place_refuses_in_one_line_naming_the_flag(requested, env, gpus, flag, words):
    with pytest.raises(InputError) as error:
        place(requested, env, gpus)
    message = str(error.value)
    assert message.startswith(flag) and words in message and "\n" not in message


def test_fp16_on_the_cpu_is_refused_and_bf16_is_not():
    cpu = Placement("cpu", "gloo", Launch())
    with pytest.raises(InputError, match="^--amp fp16"):
        Accelerator(DeviceConfig(amp="fp16"), cpu)
    assert not Accelerator(DeviceConfig(amp="bf16"), cpu).scaler.is_enabled()


# ---- autocast and channels-last on the CPU ---------------------------------------------------------------

@pytest.mark.parametrize("dims, causal", [("THW", True), ("THW", False), ("T", False)])
def test_shift_under_bf16_autocast_and_channels_last_equals_the_reference(dims, causal):
    x = torch.randn(2 * 4, 16, 5, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = spatiotemporal_shift(x.to(memory_format=torch.channels_last), 4, dims, 8, causal)
        got_bf16 = spatiotemporal_shift(x.bfloat16().to(memory_format=torch.channels_last), 4, dims, 8, causal)
    assert torch.equal(got, reference_shift(x, 4, dims, 8, causal))
    assert got_bf16.dtype == torch.bfloat16
    assert torch.equal(got_bf16, reference_shift(x.bfloat16(), 4, dims, 8, causal))


def first_conv_dtypes(model) -> list:
    seen = []
    next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).register_forward_hook(
        lambda module, inputs, output: seen.append(output.dtype))
    return seen


def batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(4, 4, 3, 32, 32, generator=generator), torch.randint(0, 9, (4,), generator=generator)


def test_a_train_step_in_bf16_on_the_cpu_learns_in_fp32_weights():
    config = TrainConfig(data=".", out=".", **TINY, dropout=0.0)
    model = build_model(config.model_config(9))
    accelerator = Accelerator(DeviceConfig("cpu", "bf16", channels_last=True), Placement("cpu", "gloo", Launch()))
    accelerator.prepare(model)
    optimizer = make_optimizer(model, config)
    set_learning_rate(optimizer, 0.01)
    dtypes = first_conv_dtypes(model)
    before = model.backbone.features[0][0].weight.detach().clone()
    loss, hits = train_step(model, *batch(), optimizer, accelerator=accelerator)
    assert dtypes == [torch.bfloat16]  # the forward ran under autocast
    assert torch.isfinite(loss) and 0 <= int(hits) <= 4
    weight = model.backbone.features[0][0].weight
    assert weight.dtype == torch.float32 and not torch.equal(weight, before)


def batchnorm_statistics(model) -> list[torch.Tensor]:
    return [t.clone() for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            for t in (m.running_mean, m.running_var, m.num_batches_tracked)]


@pytest.mark.parametrize("frozen", [True, False])
def test_a_distill_step_in_bf16_keeps_frozen_batchnorm_statistics(frozen):
    """Frozen: every running statistic stays as it was under autocast and channels-last; not frozen (the control,
    so the check can fail): the same step moves them."""
    config = TrainConfig(data=".", out=".", **TINY)
    student, teacher = build_model(config.model_config(9)), build_model(config.model_config(9)).eval()
    accelerator = Accelerator(DeviceConfig("cpu", "bf16", channels_last=True), Placement("cpu", "gloo", Launch()))
    accelerator.prepare(student)
    accelerator.prepare(teacher)
    optimizer = make_optimizer(student, config)
    before = batchnorm_statistics(student)
    loss, _ = train_step(student, batch()[0], torch.full((4,), -1), optimizer, distillation(teacher, 4.0, 0.0),
                         frozen_batchnorm=frozen, accelerator=accelerator)
    assert torch.isfinite(loss)
    unchanged = [torch.equal(a, b) for a, b in zip(before, batchnorm_statistics(student))]
    assert all(unchanged) if frozen else not any(unchanged[2::3])


# ---- runs, checkpoints and the log ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def motion_data(tmp_path_factory) -> Path:
    return make_motion_data(tmp_path_factory.mktemp("motion") / "data", seed=3, clips_per_class=2,
                            spec=MotionSpec(size=48, frames=8))


def all_cpu_and_contiguous(tree) -> bool:
    if isinstance(tree, torch.Tensor):
        return tree.device.type == "cpu" and tree.is_contiguous()
    if isinstance(tree, dict):
        return all(all_cpu_and_contiguous(v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return all(all_cpu_and_contiguous(v) for v in tree)
    return True


def test_train_and_distill_in_bf16_log_speed_and_save_cpu_tensors(motion_data, tmp_path):
    device = DeviceConfig("cpu", "bf16", channels_last=True)
    run = tmp_path / "run"
    best = train(TrainConfig(data=str(motion_data), out=str(run), epochs=1, max_steps_per_epoch=1, **TINY),
                 log=lambda _: None, device=device)
    (entry,) = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert entry["device"] == "cpu, autocast bf16, channels-last"
    assert entry["clips_per_second"] > 0 and 0 <= entry["data_wait"] < 1
    for path in (best, run / "last.pt"):  # channels-last weights and momentum saved as plain contiguous CPU tensors
        state = read_checkpoint(path)
        assert all_cpu_and_contiguous(state) and state["state_dict"]
    assert read_checkpoint(run / "last.pt")["optimizer"]["state"]
    student = distill(DistillConfig(teacher=str(best), videos=str(motion_data / "videos" / "train"),
                                    out=str(tmp_path / "student"), epochs=1, batch_size=4, workers=0,
                                    max_steps_per_epoch=1), log=lambda _: None, device=device)
    assert all_cpu_and_contiguous(read_checkpoint(student))
    assert load_model(student).model.config.causal


def test_a_checkpoint_of_a_channels_last_model_loads_as_the_same_model(tmp_path):
    model = build_model(TrainConfig(data=".", out=".", **TINY).model_config(9)).eval()
    save_checkpoint(model.to(memory_format=torch.channels_last), tmp_path / "m.pt", [str(i) for i in range(9)])
    loaded = load_model(tmp_path / "m.pt").model.eval()
    clips = batch()[0]
    with torch.no_grad():
        assert torch.allclose(loaded(clips), model(clips), atol=1e-6)


def test_persistent_workers_see_the_epoch_set_after_they_started(motion_data):
    from stsm_edge.data.annotations import read_annotations
    from stsm_edge.data.augment import ClipAugment
    from stsm_edge.data.dataset import VideoClipDataset, make_loader
    from stsm_edge.preprocess import PreprocessSpec

    data = VideoClipDataset(read_annotations(motion_data / "train.txt")[:2], 4, PreprocessSpec.for_size(32, 32),
                            train=True, augment=ClipAugment(), seed=1)
    loader = make_loader(data, 2, shuffle=False, workers=1)
    assert loader.persistent_workers
    for epoch in (0, 1):
        data.set_epoch(epoch)
        (clips, _), = list(loader)
        assert torch.equal(clips, torch.stack([data[i][0] for i in range(2)]))


# ---- bad input: one line naming the flag, no run folder ----------------------------------------------------

def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "stsm_edge", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


@pytest.mark.parametrize("flags, flag", [
    (["--device", "tpu"], "--device"),
    pytest.param(["--device", "cuda"], "--device", marks=no_cuda),
    pytest.param(["--device", "cuda:3"], "--device", marks=no_cuda),
    pytest.param(["--amp", "fp16"], "--amp fp16", marks=no_cuda),
])
@pytest.mark.parametrize("command", ["train", "distill"])
def test_bad_device_flags_are_one_line_and_leave_no_run_folder(command, flags, flag, motion_data, tmp_path):
    out = tmp_path / "run"
    job = ["train", "--data", motion_data] if command == "train" else \
        ["distill", "--teacher", tmp_path / "none.pt", "--videos", motion_data / "videos" / "train"]
    result = run_cli(*job, "--out", out, *flags)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and flag in result.stderr, result.stderr
    assert not out.exists()


@no_cuda
def test_eval_refuses_a_gpu_it_does_not_have_and_a_device_for_an_artifact(motion_data, tmp_path):
    for model, flags in ((["--default"], ["--device", "cuda"]), (["--model", tmp_path / "x.onnx"], ["--amp", "bf16"])):
        result = run_cli("eval", *model, "--data", motion_data / "test.txt", *flags)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and flags[0] in result.stderr, result.stderr


# ---- on a GPU ----------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no CUDA GPU here: on a GPU host run bash benchmarks/gpu_check.sh (and this test)")
def test_train_and_distill_on_cuda_in_bf16(motion_data, tmp_path):
    device = DeviceConfig("cuda", "bf16", channels_last=True)
    run = tmp_path / "run"
    best = train(TrainConfig(data=str(motion_data), out=str(run), epochs=1, max_steps_per_epoch=3, **TINY),
                 log=lambda _: None, device=device)
    (entry,) = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert entry["device"].startswith("cuda:0, autocast bf16") and entry["clips_per_second"] > 0
    assert all_cpu_and_contiguous(read_checkpoint(run / "last.pt"))
    student = distill(DistillConfig(teacher=str(best), videos=str(motion_data / "videos" / "train"),
                                    out=str(tmp_path / "student"), epochs=1, batch_size=4, workers=0,
                                    max_steps_per_epoch=3), log=lambda _: None, device=device)
    assert all_cpu_and_contiguous(read_checkpoint(student))
    assert torch.cuda.max_memory_allocated() > 0  # the work was on the GPU
