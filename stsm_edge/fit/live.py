"""Live-stream evaluation: what a person watching the label sees, measured on continuous streams.

Held-out clips are played back to back as one camera stream at `fps` (each clip filmed by a camera at that rate, as
`eval --play-fps` does; each action's clip played `repeats` times), with or without "no motion" pauses of varied
length between actions, through `FrameBufferRunner` as deployed (paced by timestamp at the model's time step).
Every frame's shown label is scored against the action on screen:

- reaction: from an action's start to the first frame whose shown label is its class (median, p90);
- never shown: actions whose class the label never showed;
- streaming accuracy: the share of action frames whose shown label is right, over all frames and after the first
  `settle_s` seconds of each action (the time a causal model needs to see the motion);
- false switches per minute of no motion: changes of the shown label, during pauses, to an action's class (also
  counted apart after each pause's first `settle_s`: a stream made of clips cuts from one scene to another when a
  pause starts, and a cut is motion to a causal model, which a person stopping does not make).

The model's own per-step output is recorded too, so any other smoothing can be replayed on the same steps without
running the model again (`replay`): pacing and the model do not depend on the smoother, only the label does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stsm_edge.data.annotations import read_annotations
from stsm_edge.errors import InputError
from stsm_edge.fit.config import LiveSettings
from stsm_edge.fit.evaluate import played_frames
from stsm_edge.runner import NO_ACTION, FrameBufferRunner
from stsm_edge.smoothing import Smoother, SmoothingConfig, SmoothingFlags

PAUSE_LABEL = "no motion"  # the class a pause shows; a model without it gets streams without pauses


@dataclass(frozen=True)
class Segment:
    """Frames [start, stop) of a stream showing one class: an action, or a pause (no motion)."""

    start: int
    stop: int
    label: str
    pause: bool


@dataclass
class LiveStream:
    """One continuous stream: which clip frames it shows, in order, and what is on screen when."""

    fps: float
    clips: list[tuple[Path, list[int]]]  # (video, indices of its frames to show) in play order
    segments: list[Segment]

    @property
    def frame_count(self) -> int:
        return self.segments[-1].stop if self.segments else 0

    def frames(self):
        """(frame, timestamp) of the whole stream, read clip by clip."""
        index = 0
        for path, taken in self.clips:
            frames = [frame for frame, _ in played_frames(path, self.fps)]
            for i in taken:
                yield frames[i], index / self.fps
                index += 1


def build_stream(annotation_list: Path, labels: list[str], settings: LiveSettings, pauses: bool) -> LiveStream:
    """Every action clip of the list back to back (no class twice in a row), each played `repeats` times; with
    `pauses`, a pause of a random length between two actions: one "no motion" clip of the list played forwards
    and backwards in turn, so a pause has no cut inside it (a cut is motion to a causal model)."""
    records = read_annotations(Path(annotation_list))
    if any(r.label >= len(labels) for r in records):
        raise InputError(f"{annotation_list}: a label is outside the model's {len(labels)} classes")
    pause_class = labels.index(PAUSE_LABEL) if PAUSE_LABEL in labels else None
    actions = [r for r in records if r.label != pause_class]
    still = [r for r in records if r.label == pause_class]
    if not actions:
        raise InputError(f"{annotation_list}: no action clips to stream")
    if pauses and not still:
        raise InputError(f"{annotation_list}: pauses need '{PAUSE_LABEL}' clips, and the list has none")
    rng = np.random.default_rng(settings.seed)
    order = _no_repeats([actions[i] for i in rng.permutation(len(actions))])
    stream = LiveStream(settings.fps, [], [])
    frame = 0
    for n, record in enumerate(order):
        length = _frame_count(record.path, settings.fps)
        stream.clips += [(record.path, list(range(length)))] * settings.repeats
        stream.segments.append(Segment(frame, frame + length * settings.repeats, labels[record.label], False))
        frame += length * settings.repeats
        if pauses and n < len(order) - 1:
            clip = still[int(rng.integers(len(still)))].path
            wanted = max(1, int(round(rng.uniform(*settings.pause_s) * settings.fps)))
            stream.clips.append((clip, _back_and_forth(_frame_count(clip, settings.fps), wanted)))
            stream.segments.append(Segment(frame, frame + wanted, PAUSE_LABEL, True))
            frame += wanted
    return stream


def _back_and_forth(length: int, count: int) -> list[int]:
    """`count` frame indices of a `length`-frame clip played forwards, backwards, forwards...: 0 1 2 1 0 1 2 ..."""
    period = max(1, 2 * (length - 1))
    return [min(i % period, period - i % period) if length > 1 else 0 for i in range(count)]


def _frame_count(path: Path, fps: float) -> int:
    return len(played_frames(path, fps))


def _no_repeats(records: list) -> list:
    """The same records, reordered greedily so that no class follows itself (where the mix allows it)."""
    left, order = list(records), []
    while left:
        pick = next((i for i, r in enumerate(left) if not order or r.label != order[-1].label), 0)
        order.append(left.pop(pick))
    return order


@dataclass
class PlayedStream:
    """A stream played through a runner: the label it showed at every frame, and the model's own output at every
    model step (log-probabilities, so a smoother fed them averages as it would the logits)."""

    stream: LiveStream
    labels: list[str]
    shown: list[str]
    steps: list[tuple[int, np.ndarray]]  # (frame index, log-softmax of the step's logits)
    step_seconds: float


def play_stream(runner: FrameBufferRunner, stream: LiveStream) -> PlayedStream:
    """The stream through `runner` from a fresh start, frame by frame at its own timestamps."""
    runner.reset()
    labels, shown, steps = runner.labels, [], []
    for index, (frame, stamp) in enumerate(stream.frames()):
        prediction = runner.step(frame, stamp)
        shown.append(prediction.label)
        if prediction.ran_model and prediction.model_step:
            steps.append((index, _log_probs(prediction.raw_top, labels)))
    return PlayedStream(stream, labels, shown, steps, runner.time_step.seconds)


def _log_probs(raw_top: list[tuple[str, float]], labels: list[str]) -> np.ndarray:
    if len(raw_top) < len(labels):
        raise InputError("a live-stream evaluation needs the runner's top_k to cover every class")
    probs = np.zeros(len(labels))
    for label, p in raw_top:
        probs[labels.index(label)] = p
    return np.log(np.maximum(probs, 1e-30))


def replay(played: PlayedStream, config: SmoothingConfig) -> list[str]:
    """The labels the runner would have shown with smoothing `config`: the recorded model steps through a fresh
    `Smoother`, each step's label held until the next step, as the runner does."""
    smoother, shown, label = Smoother(config), [], NO_ACTION
    steps = iter(played.steps)
    next_step = next(steps, None)
    for index in range(played.stream.frame_count):
        if next_step is not None and next_step[0] == index:
            result = smoother.update(next_step[1])
            label = NO_ACTION if result.index is None else played.labels[result.index]
            next_step = next(steps, None)
        shown.append(label)
    return shown


@dataclass
class LiveScore:
    reactions: list[float]  # seconds, one per action that was shown
    never_shown: int
    actions: int
    right_frames: int  # action frames showing the action
    action_frames: int
    right_settled: int  # the same, after each action's first settle_s seconds
    settled_frames: int
    false_switches: int
    false_switches_settled: int  # the same, after each pause's first settle_s seconds
    pause_minutes: float

    @property
    def accuracy_all(self) -> float:
        return self.right_frames / max(self.action_frames, 1)

    @property
    def accuracy_settled(self) -> float:
        return self.right_settled / max(self.settled_frames, 1)

    @property
    def reaction_median(self) -> float:
        return float(np.median(self.reactions)) if self.reactions else float("nan")

    @property
    def reaction_p90(self) -> float:
        return float(np.percentile(self.reactions, 90)) if self.reactions else float("nan")

    @property
    def false_switches_per_minute(self) -> float:
        return self.false_switches / self.pause_minutes if self.pause_minutes else 0.0

    @property
    def settled_switches_per_minute(self) -> float:
        return self.false_switches_settled / self.pause_minutes if self.pause_minutes else 0.0

    def to_dict(self) -> dict:
        return {"reaction_median_s": self.reaction_median, "reaction_p90_s": self.reaction_p90,
                "never_shown": self.never_shown, "actions": self.actions, "accuracy_all": self.accuracy_all,
                "accuracy_settled": self.accuracy_settled, "false_switches": self.false_switches,
                "false_switches_settled": self.false_switches_settled, "pause_minutes": self.pause_minutes,
                "false_switches_per_minute": self.false_switches_per_minute,
                "settled_switches_per_minute": self.settled_switches_per_minute}


def score(stream: LiveStream, shown: list[str], settle_s: float) -> LiveScore:
    """Score one stream's shown labels (one per frame) against what was on screen."""
    settle = int(round(settle_s * stream.fps))
    reactions, never, hits, frames, settled_hits, settled_frames = [], 0, 0, 0, 0, 0
    switches = settled_switches = pause_frames = 0
    for segment in stream.segments:
        window = shown[segment.start:segment.stop]
        if segment.pause:
            before = shown[segment.start - 1] if segment.start else NO_ACTION
            for i, label in enumerate(window):
                switched = label != before and label not in (PAUSE_LABEL, NO_ACTION)
                switches, settled_switches = switches + switched, settled_switches + (switched and i >= settle)
                before = label
            pause_frames += len(window)
            continue
        right = [label == segment.label for label in window]
        first = next((i for i, ok in enumerate(right) if ok), None)
        if first is None:
            never += 1
        else:
            reactions.append(first / stream.fps)
        hits, frames = hits + sum(right), frames + len(right)
        settled_hits, settled_frames = settled_hits + sum(right[settle:]), settled_frames + len(right[settle:])
    actions = sum(not s.pause for s in stream.segments)
    return LiveScore(reactions, never, actions, hits, frames, settled_hits, settled_frames, switches,
                     settled_switches, pause_frames / stream.fps / 60)


def merge(scores: list[LiveScore]) -> LiveScore:
    """Several streams' scores as one: reactions pooled, frames and switches summed."""
    return LiveScore([r for s in scores for r in s.reactions], *(sum(getattr(s, name) for s in scores) for name in (
        "never_shown", "actions", "right_frames", "action_frames", "right_settled", "settled_frames",
        "false_switches", "false_switches_settled", "pause_minutes")))


@dataclass
class LiveRun:
    """A live-stream evaluation as `stsm-edge eval --live` reports it: per stream and both together."""

    name: str
    runner: FrameBufferRunner
    settings: LiveSettings
    scores: dict[str, LiveScore]  # "back to back", "with pauses", "both"

    def report(self, data: Path) -> str:
        config = self.runner.smoother.config
        step = self.runner.time_step.seconds
        lines = [f"{self.name} ({self.runner.runtime.format}, {self.runner.form}) on {Path(data).name}: continuous "
                 f"streams at {self.settings.fps:g} fps, paced at {self.runner.time_step.describe()}",
                 f"smoothing: window {config.window} steps ({config.window * step:.2f} s), min-hold {config.min_hold} "
                 f"({config.min_hold * step:.2f} s), vote {config.vote}, margin {config.margin:g}, threshold "
                 f"{config.threshold:g}"]
        for name, s in self.scores.items():
            pauses = f"; {s.false_switches_per_minute:.1f} false switches/min of no motion " \
                     f"({s.settled_switches_per_minute:.1f} after a pause's first {self.settings.settle_s:g} s)" \
                if s.pause_minutes else ""
            lines.append(f"{name}: reaction median {s.reaction_median:.2f} s, p90 {s.reaction_p90:.2f} s; never shown "
                         f"{s.never_shown} of {s.actions}; streaming accuracy {s.accuracy_settled:.1%} after "
                         f"{self.settings.settle_s:g} s, {s.accuracy_all:.1%} over all frames{pauses}")
        return "\n".join(lines)


def evaluate_live(runner: FrameBufferRunner, annotation_list: Path, settings: LiveSettings,
                  name: str = "model") -> LiveRun:
    """The list's clips as continuous streams through `runner`: back to back, and with pauses where the model
    has a "no motion" class; each scored, and both together."""
    kinds = {"back to back": False, **({"with pauses": True} if PAUSE_LABEL in runner.labels else {})}
    scores = {}
    for kind, pauses in kinds.items():
        played = play_stream(runner, build_stream(annotation_list, runner.labels, settings, pauses))
        scores[kind] = score(played.stream, played.shown, settings.settle_s)
    if len(scores) > 1:
        scores["both"] = merge(list(scores.values()))
    return LiveRun(name, runner, settings, scores)


def evaluate_live_model(model: str | Path, settings, live: LiveSettings, smoothing: SmoothingFlags | None = None,
                        options=None) -> LiveRun:
    """`stsm-edge eval --live`: "default", a checkpoint (read with `options`) or an artifact, with `settings`' list,
    threads and step (an EvalSettings), the model's recommended smoothing unless `smoothing` sets it."""
    from stsm_edge.runtimes.base import open_model
    from stsm_edge.timebase import step_from_ms

    runtime = open_model(model, settings.threads, options)
    step_seconds = None if settings.step_ms is None else step_from_ms(settings.step_ms).seconds
    runner = FrameBufferRunner(runtime, smoothing, top_k=len(runtime.labels), step_seconds=step_seconds,
                               pacing=not settings.no_pacing)
    name = "default model" if str(model) == "default" else Path(model).name
    return evaluate_live(runner, Path(settings.data), live, name)
