"""Errors raised by the live pipeline's stages; all are :class:`PosecastError` so the CLI prints
them as one line."""

from ..engines.errors import PosecastError


class SourceError(PosecastError):
    """A camera, video file or image folder that cannot be opened or read."""


class PublishError(PosecastError):
    """A ZeroMQ address that cannot be bound or connected."""


class SchemaError(PosecastError):
    """A published message that does not follow posecast's message schema."""


class OptionsError(PosecastError, ValueError):
    """A stage option with a value outside its valid range."""


class SinkError(PosecastError):
    """A sink that failed while the run went on (it was detached; the other sinks kept going)."""
