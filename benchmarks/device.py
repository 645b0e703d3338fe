"""The device fingerprint stored with every results file: CPU, cores, ISA flags, OS, RAM, runtime versions."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

from stsm_edge.versions import package_versions

# ISA features that decide int8/fp32 kernel speed, as /proc/cpuinfo spells them -> the name we report.
X86_FLAGS = {
    "sse4_2": "SSE4.2", "avx": "AVX", "avx2": "AVX2", "fma": "FMA", "f16c": "F16C", "avx_vnni": "AVX-VNNI",
    "avx512f": "AVX512F", "avx512bw": "AVX512BW", "avx512_vnni": "AVX512-VNNI", "avx512_bf16": "AVX512-BF16",
    "avx512_fp16": "AVX512-FP16", "amx_tile": "AMX-TILE", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16",
}
ARM_FLAGS = {
    "asimd": "NEON", "asimdhp": "NEON-FP16", "asimddp": "DOTPROD", "i8mm": "I8MM", "bf16": "BF16", "sve": "SVE",
    "sve2": "SVE2", "sme": "SME",
}
RUNTIME_DISTRIBUTIONS = ("torch", "executorch", "ai-edge-litert", "onnxruntime", "coremltools", "numpy")


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _sysctl(name: str) -> str:
    try:
        return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    info = _cpuinfo()
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", info, re.MULTILINE)
        if match:
            return match.group(1).strip()
    if platform.system() == "Darwin":
        return _sysctl("machdep.cpu.brand_string") or platform.processor()
    return platform.processor() or platform.machine()


def isa_flags() -> list[str]:
    info = _cpuinfo()
    match = re.search(r"^(flags|Features)\s*:\s*(.+)$", info, re.MULTILINE)
    flags = set(match.group(2).split()) if match else set()
    if not flags and platform.system() == "Darwin":
        flags = {f.lower().replace(".", "_") for f in _sysctl("machdep.cpu.features").split()}
        if platform.machine() == "arm64":  # Apple silicon: NEON, dot product and i8mm are architectural
            flags |= {"asimd", "asimddp"} | ({"i8mm"} if _sysctl("hw.optional.arm.FEAT_I8MM") == "1" else set())
    table = {**X86_FLAGS, **ARM_FLAGS}
    return [name for flag, name in table.items() if flag in flags]


def ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def runtime_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **package_versions(RUNTIME_DISTRIBUTIONS)}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def default_name() -> str:
    """A stable, readable device name (container host names are random): CPU model + core count."""
    model = re.sub(r"\((R|TM)\)|CPU|Processor|\d+-Core|@.*$", "", cpu_model(), flags=re.IGNORECASE)
    return slug(f"{model} {available_cores()}c")


def fingerprint(name: str | None = None) -> dict:
    return {
        "name": name or default_name(),
        "cpu": cpu_model(),
        "cores": available_cores(),
        "isa": isa_flags(),
        "os": platform.platform(),
        "ram_gb": ram_gb(),
        "runtimes": runtime_versions(),
        "machine": platform.machine(),
    }


def device_label(device: dict, fallback: str = "device") -> str:
    """A display name for any producer's fingerprint (the Android demo writes manufacturer + model)."""
    if device.get("name"):
        return str(device["name"])
    parts = [str(device[k]) for k in ("manufacturer", "model") if device.get(k)]
    return " ".join(parts) or fallback
