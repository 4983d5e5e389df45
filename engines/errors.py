"""posecast's error hierarchy: every user-facing failure is a :class:`PosecastError` whose
message is one line saying what was expected, what was found, and how to fix it. The CLI
prints it without a traceback (``--verbose`` shows one)."""


class PosecastError(Exception):
    """Base of every error posecast reports to a user."""


class ModelError(PosecastError):
    """A model file that is missing, corrupt or from an incompatible version."""


class AssetError(PosecastError):
    """A downloadable asset that is missing, unreachable or fails its checksum."""


class BackendError(PosecastError):
    """A runtime backend that cannot be used here (missing package, no GPU, ...)."""


class LiftInputError(PosecastError, ValueError):
    """A 2D input file in the ``posecast lift`` format that cannot be used (one line: what and how to fix)."""
