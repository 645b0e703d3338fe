"""The errors a user can cause. The CLI prints their one-line message (no traceback) and exits 2."""


class StsmEdgeError(Exception):
    """Base of every user-facing error."""


class TargetUnavailable(StsmEdgeError):
    """A target's libraries are missing, or it cannot run on this OS."""


class ExportError(StsmEdgeError):
    """A conversion could not produce a valid artifact."""


class CalibrationError(StsmEdgeError):
    """The calibration source gave no usable frames."""


class ArtifactError(StsmEdgeError):
    """An artifact or its sidecar is missing, of the wrong kind, or fails its checks."""


class InputError(StsmEdgeError):
    """A video, image, checkpoint or option given by the user cannot be used."""


class OptionError(InputError):
    """A converter option that does not exist, or a value it does not take."""


class WeightsError(InputError):
    """Weights that do not fit the model, or a checkpoint that cannot be read."""
