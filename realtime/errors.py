"""Errors raised by the live pipeline's stages; all are :class:`PosecastError` so the CLI prints
them as one line."""

from ..engines.errors import PosecastError


class SourceError(PosecastError):
    """A camera, video file or image folder that cannot be opened or read."""


class SourceStalledError(SourceError):
    """A live source has delivered nothing for a while and is retrying (not the end of the
    stream): raised by ``read()`` every ``stall_report_s`` while it lasts, so the pipeline can
    say so (the ``source_stalled_s`` notice); ``stalled_s`` is the time since its last frame.
    Code that does not handle it sees a :class:`SourceError`."""

    def __init__(self, message: str, stalled_s: float) -> None:
        super().__init__(message)
        self.stalled_s = stalled_s


class SourceLostError(SourceError):
    """A live camera or stream that delivered frames, then none for its whole retry time: the
    run ended with its outputs finished. The CLI exits with :data:`EXIT_SOURCE_LOST`, not 2, so a
    supervisor can restart a run whose camera went away without restarting one that a bad option
    fails every time."""

    exit_status = 75


#: A lost live source's exit status: sysexits.h's EX_TEMPFAIL ("try again later").
EXIT_SOURCE_LOST = SourceLostError.exit_status


class PublishError(PosecastError):
    """A ZeroMQ address that cannot be bound or connected."""


class SchemaError(PosecastError):
    """A published message that does not follow posecast's message schema."""


class OptionsError(PosecastError, ValueError):
    """A stage option with a value outside its valid range."""


class SinkError(PosecastError):
    """A sink that failed while the run went on (it was detached; the other sinks kept going)."""


class StageError(PosecastError):
    """A detector or lifting stage that raised while it processed a frame (its own fault or its
    library's): the run stops there, its outputs finished, with one line naming the stage."""
