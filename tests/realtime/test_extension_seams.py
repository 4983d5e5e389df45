"""What a developer adding a stage meets, following the README's recipes: a detector without
options needs no ``from_args`` and builds through ``assemble`` too; a sink whose ``open`` fails
with a plain exception ends the run with one line naming it; a threaded sink's failure names the
frame that failed, not the one at which it was noticed; the meta says which detector made the 2D."""

from __future__ import annotations

import argparse
import time

import pytest
from posecast.engines.layouts import COCO_17
from posecast.realtime import assemble
from posecast.realtime.detectors import DETECTORS
from posecast.realtime.errors import SinkError
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.sinks import RecordSink
from posecast.realtime.sinks.record import RecordOptions
from posecast.realtime.stages import Detector2D, Sink
from posecast.realtime.types import Detections2D, Frame, PoseFrame, StreamMeta
from test_stages import FakeDetector, FakeLifting, ListSource, RecordingSink, two_people


class NobodyDetector(Detector2D):
    """The README's table and nothing more: a name, a layout, ``detect``."""

    name = "nobody"
    layout = COCO_17

    def detect(self, frame: Frame) -> Detections2D:
        return Detections2D.empty(frame, COCO_17)


def test_a_detector_without_options_builds_from_the_command_line_and_from_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(NobodyDetector.from_args(argparse.Namespace(max_people=1, verbose=False)), NobodyDetector)
    monkeypatch.setitem(DETECTORS, "nobody", NobodyDetector)
    options = assemble.PipelineOptions(detector="nobody", max_people=2)  # no MediaPipe options forced on it
    assert options.detector_options is None
    with assemble.build_pipeline(options) as pipeline, ListSource(3) as source:
        frames = list(pipeline.run(source))
        meta = pipeline.meta()
    assert [f.people for f in frames] == [[], [], []]
    assert (meta.assumptions["detector"], meta.assumptions["keypoint_layout"]) == ("nobody", "coco-17")


def test_a_detector_without_a_people_option_says_it_finds_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, pose_model_path  # noqa: ANN001
) -> None:
    """QA: ``--max-people 3`` with a detector without options was ignored with nothing said."""
    monkeypatch.setitem(DETECTORS, "nobody", NobodyDetector)
    with assemble.build_pipeline(assemble.PipelineOptions(detector="nobody", max_people=3)):
        pass
    said = "detector nobody declares at most 1 person per frame (its max_people), fewer than the 3 asked for"
    assert said in caplog.text
    caplog.clear()
    from posecast.realtime.detectors import MediaPipeOptions

    mediapipe = assemble.PipelineOptions(max_people=3, detector_options=MediaPipeOptions(model_path=pose_model_path))
    with assemble.build_pipeline(mediapipe) as pipeline:  # MediaPipe's option
        assert pipeline.detector.max_people == 3
    assert "declares at most" not in caplog.text


def test_mediapipe_options_are_made_for_it_with_the_people_asked_for() -> None:
    options = assemble.PipelineOptions(max_people=3)
    assert type(options.detector_options).__name__ == "MediaPipeOptions"
    assert options.detector_options.max_people == 3


class OpensAFile(Sink):
    name = "csvfile"

    def open(self, meta: StreamMeta) -> None:
        open("/nonexistent-folder/out.csv", "w")  # noqa: SIM115 - fails, as an unwritable path does

    def write(self, frame: PoseFrame) -> None:
        pass


def test_a_sink_that_cannot_open_ends_the_run_with_one_line_naming_it() -> None:
    other = RecordingSink()
    with pytest.raises(SinkError, match=r"^output csvfile could not start: \[Errno 2\] No such file") as caught:
        Pipeline(FakeDetector(two_people(2)), FakeLifting(), [other, OpensAFile()]).open()
    assert "\n" not in str(caught.value)
    assert other.closed == 1  # what had opened is closed again


def test_outputs_that_could_not_all_start_leave_no_empty_take(tmp_path) -> None:  # noqa: ANN001
    """No frame can have been written: a take opened before the output that failed was finished
    empty (QA); it is discarded, as a run that fails before its first frame discards it."""
    take = tmp_path / "take.posecast"
    with pytest.raises(SinkError, match="^output csvfile could not start"):
        Pipeline(FakeDetector(two_people(2)), FakeLifting(), [RecordSink(RecordOptions(take)), OpensAFile()]).open()
    assert list(tmp_path.iterdir()) == []


class SlowFailing(RecordingSink):
    """A threaded sink whose write of frame 2 fails after the pipeline has moved on."""

    name = "slowfailing"
    inline = False
    keeps_file_frames = True  # frame 2 must reach it: never dropped from its queue, however busy the machine

    def write(self, frame: PoseFrame) -> None:
        time.sleep(0.01)
        if frame.frame_id == 2:
            raise OSError("disk full")


def test_a_threaded_sink_failure_names_the_frame_that_failed() -> None:
    pipeline = Pipeline(FakeDetector(two_people(60)), FakeLifting(), [SlowFailing()])
    failed = pytest.raises(SinkError, match=r"output slowfailing failed at frame 2: disk full")
    with failed, pipeline, ListSource(60) as source:
        for _ in pipeline.run(source):
            time.sleep(0.005)  # the pipeline is several frames ahead when the failure is seen


class RaisesAMatrix(RecordingSink):
    name = "matrix"

    def write(self, frame: PoseFrame) -> None:
        raise ValueError("Non-positive determinant in rotation matrix 0:\n[[1. 0. 0.]\n [0. 0. 0.]]")


def test_a_sink_failure_of_several_lines_is_said_in_its_first() -> None:
    """Numerics QA: scipy's error printed its matrix over four lines into the one-line error."""
    pipeline = Pipeline(FakeDetector(two_people(3)), FakeLifting(), [RaisesAMatrix()])
    with pytest.raises(SinkError) as caught, pipeline, ListSource(3) as source:
        list(pipeline.run(source))
    assert str(caught.value).endswith("failed at frame 0: ValueError: Non-positive determinant in rotation matrix 0: …")


class FailsAtFrame2(NobodyDetector):
    name = "boom"

    def detect(self, frame: Frame) -> Detections2D:
        if frame.frame_id == 2:
            raise RuntimeError("model file went away")
        return super().detect(frame)


@pytest.mark.parametrize("runner", ["serial", "threaded"])
def test_a_detector_that_raises_ends_the_run_with_one_line_naming_it(runner: str) -> None:
    """QA: a plugin detector's RuntimeError was a 30-line traceback and exit 1 (a sink's failure was
    already one line): the outputs are finished and the error names the detector and the frame."""
    from posecast.realtime.errors import StageError
    from posecast.realtime.threaded import ThreadedPipeline

    sink = RecordingSink()
    pipeline = Pipeline(FailsAtFrame2(), FakeLifting(), [sink])
    runs = pipeline if runner == "serial" else ThreadedPipeline(pipeline)
    failed = pytest.raises(StageError, match=r"^detector boom failed at frame 2: RuntimeError: model file went away "
                                             r"\(-v shows where\)$")  # fmt: skip
    with failed, pipeline, ListSource(5) as source:
        list(runs.run(source))
    assert [f.frame_id for f in sink.frames] == [0, 1] and sink.closed == 1


@pytest.mark.parametrize("runner", ["serial", "threaded"])
def test_a_lifting_stage_that_raises_ends_the_run_with_one_line_naming_it(runner: str) -> None:
    from posecast.realtime.errors import StageError
    from posecast.realtime.threaded import ThreadedPipeline

    class FailingLifting(FakeLifting):
        name = "mylift"

        def process(self, detections, timestamp_ns, stage_ns=None):  # noqa: ANN001, ANN201
            if detections.frame_id == 3:
                raise ValueError("weights went away")
            return super().process(detections, timestamp_ns, stage_ns)

    sink = RecordingSink()
    pipeline = Pipeline(FakeDetector(two_people(6)), FailingLifting(), [sink])
    runs = pipeline if runner == "serial" else ThreadedPipeline(pipeline)
    failed = pytest.raises(StageError, match=r"^lifting stage mylift failed at frame 3: ValueError: weights went away")
    with failed, pipeline, ListSource(6) as source:
        list(runs.run(source))
    assert [f.frame_id for f in sink.frames] == [0, 1, 2] and sink.closed == 1


def test_a_detector_that_raises_is_one_line_and_exit_2_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, media_dir, capsys: pytest.CaptureFixture  # noqa: ANN001
) -> None:
    from posecast.realtime.cli import main

    monkeypatch.setitem(DETECTORS, "boom", FailsAtFrame2)
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--detector", "boom", "--frames", "5"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == ("posecast: error: detector boom failed at frame 2: RuntimeError: model "
                                            "file went away (-v shows where)")  # fmt: skip


class PlacedLifting(FakeLifting):
    """A lifting method of a user's: built as LIFTINGS' classes are, with the LiftingOptions."""

    name = "placed"

    def __init__(self, options=None) -> None:  # noqa: ANN001
        super().__init__()
        self.options = options

    def assumptions(self) -> dict:
        return {"placed": True}


def test_a_lifting_method_registered_is_built_from_options_and_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, media_dir, capsys: pytest.CaptureFixture  # noqa: ANN001
) -> None:
    """QA: "one line in LIFTINGS" was the documented recipe, but every pipeline built "metric"."""
    from posecast.realtime.cli import main
    from posecast.realtime.errors import OptionsError
    from posecast.realtime.lifting import LIFTINGS

    monkeypatch.setitem(LIFTINGS, "placed", PlacedLifting)
    monkeypatch.setitem(DETECTORS, "nobody", NobodyDetector)
    options = assemble.PipelineOptions(detector="nobody", lifting_method="placed")
    with assemble.build_pipeline(options) as pipeline:
        assert isinstance(pipeline.lifting, PlacedLifting) and pipeline.lifting.options is options.lifting
        assert pipeline.meta().assumptions["placed"] is True
    with pytest.raises(OptionsError, match=r"^lifting_method must be one of metric, placed, got 'other'$"):
        assemble.PipelineOptions(lifting_method="other")

    built = []
    monkeypatch.setattr(PlacedLifting, "process", lambda self, d, t, s=None: built.append(d.frame_id) or [])
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--detector", "nobody", "--lifting", "placed", "--frames", "3"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert built == [0, 1, 2]


def test_the_meta_names_the_detector() -> None:
    with Pipeline(FakeDetector(two_people(1)), FakeLifting(), []) as pipeline:
        assumptions = pipeline.meta().assumptions
    assert assumptions["detector"] == "fake" and assumptions["keypoint_layout"] == "coco-17"


def test_the_readmes_in_process_example_runs_as_written(
    media_dir, pose_model_path, capsys: pytest.CaptureFixture[str]  # noqa: ANN001
) -> None:
    """README, From Python, in the same process: its code block, the clip path swapped for a test
    clip and fewer frames, prints each frame's people with a 3D head."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### From Python, in the same process", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert '"clip.mp4"' in code and "max_frames=300" in code
    code = code.replace('"clip.mp4"', repr(str(media_dir / "dance_576.mp4"))).replace("max_frames=300", "max_frames=8")
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8  # one person in each of the 8 frames
    frame_id, person_id, tracking, head = lines[-1].split(" ", 3)
    assert (frame_id, person_id, tracking) == ("7", "0", "warming") and head.startswith("[")


def test_built_pipelines_have_the_avatar_stage_posecast_run_has(media_dir, pose_model_path) -> None:  # noqa: ANN001
    """build_pipeline made no avatar stage: its meta had no floor, a ZeroMQ sink given --frame's
    output frame sent no frame_pose, and PoseFrame.world was None (review of the README example)."""
    from posecast.realtime.sources import open_source

    with assemble.build_pipeline() as pipeline, open_source(str(media_dir / "dance_576.mp4")) as source:
        frames = list(pipeline.run(source, max_frames=3))
        assumptions = pipeline.meta().assumptions
    assert frames[-1].world is not None and len(frames[-1].world.people) == 1
    assert assumptions["floor"]["state"] == "estimating" and assumptions["mirror"] is False  # her feet are seen
    with assemble.build_pipeline(assemble.PipelineOptions(avatar=None)) as pipeline, open_source(
        str(media_dir / "dance_576.mp4")
    ) as source:
        assert next(iter(pipeline.run(source, max_frames=1))).world is None


def test_an_outputs_own_avatar_options_giving_way_to_the_pipelines_are_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A VMC output built mirrored, in a pipeline whose avatar stage is not: the pipeline's world
    drives every output (as under posecast run), so its mirror would be dropped without a word."""
    import logging

    from posecast.realtime.avatar import AvatarOptions
    from posecast.realtime.sinks.vmc import VmcSink

    monkeypatch.setitem(DETECTORS, "nobody", NobodyDetector)
    mirrored = VmcSink(("127.0.0.1", 39539), AvatarOptions(mirror=True))
    with caplog.at_level(logging.WARNING, "posecast"):
        assemble.build_pipeline(assemble.PipelineOptions(detector="nobody"), [mirrored]).close()
        assert "the vmc output's avatar options (mirror, floor) give way to the pipeline's" in caplog.text
        caplog.clear()
        same = assemble.PipelineOptions(detector="nobody", avatar=AvatarOptions(mirror=True))
        assemble.build_pipeline(same, [VmcSink(("127.0.0.1", 39539), AvatarOptions(mirror=True))]).close()
    assert "give way" not in caplog.text


def test_a_new_backend_is_one_registry_entry_for_the_command_line_too(
    monkeypatch: pytest.MonkeyPatch, media_dir, pose_model_path  # noqa: ANN001
) -> None:
    """QA: the README's one entry in ``BACKENDS`` was taken by ``engines info`` and from Python,
    but ``run --backend NAME`` refused it (a fixed list of choices), and only the built-in CPU
    backend was given ``threads`` and ``int8``."""
    from posecast.engines.runtime import BACKENDS
    from posecast.engines.runtime.onnxruntime_backend import OnnxRuntimeBackend
    from posecast.realtime.cli import main

    class SeparateOrt(OnnxRuntimeBackend):
        name = "ort-separate"
        made_with: list[dict] = []

        def __init__(self, model_path=None, threads: int = 1, int8: bool = False) -> None:  # noqa: ANN001
            type(self).made_with.append({"threads": threads, "int8": int8})
            super().__init__(model_path, threads=threads, int8=int8)

    class TakesAnything(OnnxRuntimeBackend):  # a constructor with **options takes them all (review)
        def __init__(self, *args, **options) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **options)

    monkeypatch.setitem(BACKENDS, "takes-anything", TakesAnything)
    from posecast.engines.runtime import backend_accepts

    assert backend_accepts("takes-anything", "threads") and not backend_accepts("no-such-backend", "threads")
    monkeypatch.setitem(BACKENDS, "ort-separate", SeparateOrt)
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "3", "--backend", "ort-separate", "--model-asset", str(pose_model_path)])  # fmt: skip
    assert code == 0
    assert SeparateOrt.made_with == [{"threads": 1, "int8": True}]  # the shipped default has its INT8 copy
    assert main(["engines", "bench", "--backend", "ort-separate", "--batch", "1", "--iters", "3", "--warmup", "1",
                 "--threads", "2"]) == 0  # fmt: skip
    assert SeparateOrt.made_with[-1] == {"threads": 2, "int8": True}


def test_two_sinks_declaring_one_option_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """QA: a second sink with ``--csv`` broke every command with argparse's "conflicting option
    string", which named neither sink."""
    from posecast.realtime.cli import build_parser
    from posecast.realtime.sinks import SINKS

    class CsvA(RecordingSink):
        name = "csv-a"

        @classmethod
        def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
            parser.add_argument("--csv")

    class CsvB(CsvA):
        name = "csv-b"

    monkeypatch.setitem(SINKS, "csv-a", CsvA)
    monkeypatch.setitem(SINKS, "csv-b", CsvB)
    with pytest.raises(TypeError, match=r"^CsvB \(registered as 'csv-b'\) declares an option that is taken: .*--csv"):
        build_parser()

    class Int8Sink(RecordingSink):  # an option of the model's (review: argparse's own error came)
        name = "int8-sink"

        @classmethod
        def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
            parser.add_argument("--int8")

    monkeypatch.delitem(SINKS, "csv-b")
    monkeypatch.setitem(SINKS, "int8-sink", Int8Sink)
    with pytest.raises(TypeError, match=r"^Int8Sink \(registered as 'int8-sink'\) declares an option that is taken"):
        build_parser()


def test_every_registry_key_is_its_class_name() -> None:
    """Messages, the meta and ``Pipeline.dropped_frames`` name a stage by its ``name``, the command
    line by its registry key: the two must be one word, or a user reads two names for one thing."""
    from posecast.engines.runtime import BACKENDS
    from posecast.realtime.lifting import LIFTINGS
    from posecast.realtime.sinks import SINKS
    from posecast.realtime.sources import SOURCES

    for registry in (SOURCES, DETECTORS, LIFTINGS, SINKS, BACKENDS):
        assert registry, registry
        for key, cls in registry.items():
            assert cls.name == key, (key, cls)
