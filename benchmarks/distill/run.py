"""Bidirectional -> causal without labels, measured on the motion benchmark.

The teacher is the fidelity study's bidirectional STSM (trained with labels; seed 0, 112², 3 epochs). The
student, `stsm_causal`, starts from the teacher's weights and is distilled on a motion train split rendered
with another seed (1): `distill` is given the folder of its videos, so no label exists for it to read. Both are
scored on the seed-0 test split beside two causal STSMs trained with labels on the same split (the study's STSM
causal, seed 0, at the teacher's budget; the shipped default model, 4 epochs) and the student before distillation
(the teacher's weights in the causal shift). The student is
then exported to int8 streaming .pte, .tflite and .onnx, each evaluated on the same clips.

    python -m stsm_edge.benchmarks.distill.run

Each result is saved in results.json as it finishes, keyed by the sha256 of the file it measured, and the
distillation resumes from its last.pt, so a stopped run picks up where it was; table.md is rebuilt each time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from stsm_edge.benchmarks.fidelity.run import INT8_TARGETS, int8_stream_artifact

from stsm_edge.architectures import PRESETS
from stsm_edge.checkpoints import load_model, save_checkpoint
from stsm_edge.data.motion import make_motion_data
from stsm_edge.defaults import DEFAULT_CHECKPOINT
from stsm_edge.fileio import atomic_write_text, file_sha256
from stsm_edge.fit.config import DistillConfig
from stsm_edge.fit.distill import distill
from stsm_edge.fit.evaluate import evaluate
from stsm_edge.models import build_model
from stsm_edge.options import (
    CLIPS_PER_CLASS,
    DATA,
    OUT,
    TEACHER,
    TEMPERATURE,
    WORK,
    DeviceConfig,
    FitFlags,
    add_flag,
    add_options,
    config_from,
)
from stsm_edge.runtimes.base import open_runtime

HERE = Path(__file__).parent
UNLABELLED_SEED = 1  # the study's data is seed 0: other trajectories, speeds and backgrounds


def student_at_start(teacher: Path, path: Path) -> Path:
    """The student before distillation: the teacher's weights and labels under the causal shift."""
    if not path.exists():
        bundle = load_model(teacher)
        causal = PRESETS["stsm_causal"]
        config = bundle.model.config
        model = build_model(type(config)(**{**config.to_dict(), "dims": causal.dims, "fold_div": causal.fold_div,
                                            "causal": causal.causal}))
        model.backbone.load_state_dict(bundle.model.backbone.state_dict())
        save_checkpoint(model, path, bundle.labels, bundle.preprocess, time_step=bundle.time_step)
    return path


def table(results: dict, order: list[str], command: str, settings: dict) -> str:
    """The rows in `order` (the order they are defined in, not the order they finished in)."""
    lines = ["# Bidirectional -> causal by distillation, without labels", "",
             "Motion benchmark, seed-0 test split (675 clips), MobileNetV2 at 112², 8 frames. Teacher: the "
             "fidelity study's STSM seed 0 (3 epochs, lr 0.005, labels); causal models trained with labels: the "
             "study's STSM causal seed 0 (same budget) and the shipped default model (4 epochs). Student: "
             f"`stsm_causal` from the teacher's weights, distilled for {settings['epochs']} epochs (lr "
             f"{settings['lr']:g}, T = {settings['temperature']:g}) on the {settings['clips']} unlabelled clips of "
             f"a train split rendered with seed {UNLABELLED_SEED}.", "",
             "| model | shift | trained with | test top-1 |", "|---|---|---|---:|"]
    for row in (results[name] for name in order if name in results):
        lines.append(f"| {row['name']} | {row['shift']} | {row['how']} | {row['top1']:.1%} |")
    lines += ["", "Top-1 is `evaluate` on segment-sampled clips, what `stsm-edge eval --checkpoint/--model` reports.",
              "", f"Made with: `{command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(parser, TEACHER, default="runs/fidelity/stsm_seed0/last.pt")
    parser.add_argument("--labelled", default="runs/fidelity/stsm_causal_seed0/last.pt",
                        help="the causal model trained with labels at the teacher's budget")
    add_flag(parser, DATA, default="runs/motion", help="the labelled motion benchmark (test.txt, val.txt)")
    add_flag(parser, WORK, default="runs/distill", help="unlabelled split, student run, artifacts")
    add_flag(parser, CLIPS_PER_CLASS, type=int, default=300)
    add_flag(parser, FitFlags.epochs, type=int, default=2)
    add_flag(parser, FitFlags.lr, type=float, default=1e-3)
    add_flag(parser, TEMPERATURE, type=float, default=4.0)
    add_flag(parser, OUT, default=str(HERE), help="results.json, table.md")
    add_options(parser, DeviceConfig)
    args = parser.parse_args(argv)
    out, work, data = Path(args.out), Path(args.work), Path(args.data)
    command = shlex.join(["python", "-m", "stsm_edge.benchmarks.distill.run",
                          *(argv if argv is not None else sys.argv[1:])])
    for needed in (Path(args.teacher), data / "test.txt"):
        if not needed.exists():
            raise SystemExit(f"{needed}: missing; run `python -m stsm_edge.benchmarks.fidelity.run` first")
    unlabelled = work / f"motion_seed{UNLABELLED_SEED}_{args.clips_per_class}"
    if not (unlabelled / "train.txt").exists():
        make_motion_data(unlabelled, UNLABELLED_SEED, args.clips_per_class, splits=("train",))
    videos = unlabelled / "videos" / "train"  # a folder: distill sees paths only
    student_run = work / "student"
    config = DistillConfig(teacher=args.teacher, videos=str(videos), out=str(student_run), student_method="stsm_causal",
                           epochs=args.epochs, lr=args.lr, temperature=args.temperature, workers=1)
    last = student_run / "last.pt"
    done = last.exists() and len((student_run / "log.jsonl").read_text().splitlines()) >= args.epochs
    if not done:
        distill(config, resume=last if last.exists() else None, device=config_from(DeviceConfig, args))
    settings = {"epochs": args.epochs, "lr": args.lr, "temperature": args.temperature,
                "clips": sum(1 for _ in videos.iterdir())}

    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    rows = [("teacher", Path(args.teacher), "STSM (bidirectional)", "labels (seed-0 train split)"),
            ("student before distillation", student_at_start(Path(args.teacher), work / "student_start.pt"),
             "STSM causal", "the teacher's weights, no training"),
            ("student (eager fp32)", last, "STSM causal", "distillation, no labels"),
            ("causal trained with labels, the teacher's budget", Path(args.labelled), "STSM causal",
             "labels (seed-0 train split), 3 epochs"),
            ("causal trained with labels, the default model", DEFAULT_CHECKPOINT, "STSM causal",
             "labels (seed-0 train split), 4 epochs, fixed-step sampling")]
    for target in INT8_TARGETS:
        artifact = int8_stream_artifact(last, target, unlabelled / "train.txt", data / "val.txt", work / "int8")
        rows.append((f"student int8 stream {artifact.suffix}", artifact, "STSM causal", "distillation, no labels"))
    for name, path, shift, how in rows:
        if not path.exists():  # the labelled causal run may still be training: its row comes on a later run
            print(f"{name}: {path} not there yet, row left out", flush=True)
            continue
        key = file_sha256(path)[:16]
        if results.get(name, {}).get("sha256") == key:
            continue
        started = time.perf_counter()
        result = evaluate(open_runtime(path), data / "test.txt")
        results[name] = {"name": name, "file": str(path), "sha256": key, "shift": shift, "how": how,
                         "top1": result.top1, "top5": result.top5, "clips": result.count,
                         "seconds": round(time.perf_counter() - started, 1)}
        print(f"{name}: top-1 {result.top1:.1%}", flush=True)
        atomic_write_text(results_path, json.dumps(results, indent=1) + "\n")
    text = table(results, [row[0] for row in rows], command, settings)
    atomic_write_text(out / "table.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
