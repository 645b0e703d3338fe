"""Where a fitting or scoring job runs: the device, mixed precision and the memory format.

The option group (`stsm_edge.options.DeviceConfig`: --device, --amp, --channels-last) is resolved here. `place`
turns the request into a device and, under torchrun, the process group's backend; it is a pure function of the
request, the launcher's environment and the number of GPUs torch sees, so every torchrun case can be checked on
a machine with none. `Accelerator` is the resolved group: it moves models and batches, runs forward passes under
autocast, and takes optimizer steps through a grad scaler (active for fp16 only).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from stsm_edge.errors import InputError
from stsm_edge.options import DeviceConfig, parse_device

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
GRAD_CLIP = 20.0  # TSM clips at 20: early fine-tuning steps can spike


@dataclass(frozen=True)
class Launch:
    """What a launcher (torchrun) tells this process about the run; the defaults are a plain single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    launched: bool = False  # started by torchrun (or a launcher that sets the same variables)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Launch:
        if "LOCAL_RANK" not in env or "WORLD_SIZE" not in env:
            return cls()
        world = int(env["WORLD_SIZE"])
        return cls(int(env.get("RANK", "0")), world, int(env["LOCAL_RANK"]),
                   int(env.get("LOCAL_WORLD_SIZE", str(world))), True)


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" or "cuda:N"
    backend: str  # the process group's under a launcher: nccl with a GPU per rank, gloo on the CPU
    launch: Launch


def place(requested: str, env: Mapping[str, str], gpus: int) -> Placement:
    """The device and backend of this process. `gpus` is how many CUDA devices torch sees (0: none or no CUDA)."""
    kind, index = parse_device(requested)
    launch = Launch.from_env(env)
    if kind == "cpu" or (kind == "auto" and gpus == 0):
        return Placement("cpu", "gloo", launch)
    if gpus == 0:
        raise InputError(f"--device {requested}: torch sees no CUDA GPU on this machine; use --device cpu or auto")
    if index is not None:
        if index >= gpus:
            raise InputError(f"--device {requested}: GPU index out of range, this machine has {gpus} "
                             f"(cuda:0 to cuda:{gpus - 1})")
        if launch.local_world_size > 1:
            raise InputError(f"--device {requested} puts all {launch.local_world_size} ranks of this node on one GPU, "
                             "and NCCL needs one GPU per rank; use --device cuda (each rank takes its LOCAL_RANK's)")
        return Placement(f"cuda:{index}", "nccl", launch)
    if launch.local_world_size > gpus:
        raise InputError(f"--device {requested}: {launch.local_world_size} ranks on this node but {gpus} GPU(s), and "
                         "NCCL needs one GPU per rank; start fewer (--nproc-per-node) or use --device cpu")
    return Placement(f"cuda:{launch.local_rank}", "nccl", launch)


class Accelerator:
    """A `DeviceConfig` resolved on this machine and process."""

    def __init__(self, config: DeviceConfig, placement: Placement) -> None:
        self.config, self.placement = config, placement
        self.device = torch.device(placement.device)
        if config.amp == "fp16" and self.device.type == "cpu":
            raise InputError("--amp fp16 runs on GPUs only (its grad scaler is CUDA's); on the CPU use --amp bf16 "
                             "or off")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.amp == "fp16")

    @classmethod
    def open(cls, config: DeviceConfig | None = None, env: Mapping[str, str] | None = None) -> Accelerator:
        """Resolve `config` (default: auto, fp32) for this process; a GPU becomes the current CUDA device."""
        config = config or DeviceConfig()
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        accelerator = cls(config, place(config.device, os.environ if env is None else env, gpus))
        if accelerator.device.type == "cuda":
            torch.cuda.set_device(accelerator.device)
            torch.backends.cudnn.benchmark = True  # fixed clip shapes: let cuDNN pick its fastest convolutions
        return accelerator

    @classmethod
    def cpu(cls) -> Accelerator:
        return cls(DeviceConfig(device="cpu"), Placement("cpu", "gloo", Launch()))

    @property
    def pin_memory(self) -> bool:
        """Pinned host batches copy to a GPU asynchronously (non_blocking); on the CPU they only cost memory."""
        return self.device.type == "cuda"

    def describe(self) -> str:
        amp = "" if self.config.amp == "off" else f", autocast {self.config.amp}"
        return f"{self.device}{amp}{', channels-last' if self.config.channels_last else ''}"

    def prepare(self, model: nn.Module) -> nn.Module:
        """`model` moved to the device (and to channels-last order if asked), in place."""
        if self.config.channels_last:
            return model.to(self.device, memory_format=torch.channels_last)
        return model.to(self.device)

    def batch(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, non_blocking=True)

    def autocast(self):
        if self.config.amp == "off":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=AMP_DTYPES[self.config.amp])

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, parameters: Iterable[nn.Parameter]) -> None:
        """Backward, clip and step; through the grad scaler, which does nothing unless the run is fp16."""
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        nn.utils.clip_grad_norm_(parameters, GRAD_CLIP)
        self.scaler.step(optimizer)
        self.scaler.update()

    def peak_memory_bytes(self) -> int | None:
        """The most GPU memory this process has held since the last reset (None on the CPU: see the benchmark)."""
        return torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else None
