"""``posecast listen`` says when a stream goes quiet (once, then again when it is back) instead of
waiting without a word for ever; ``--timeout`` still ends it. Real ZeroMQ sockets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from posecast.realtime.cli import main
from posecast.realtime.commands import listen
from posecast.realtime.schema import PoseMessage
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions


def _pose(frame_id: int) -> PoseMessage:
    return PoseMessage(frame_id=frame_id, capture_ns=time.monotonic_ns(), tracking="tracking",
                       joints_m=np.zeros((17, 3), np.float32), confidence=np.ones(17, np.float32),
                       root_m=np.zeros(3, np.float32))  # fmt: skip


def _listen_while_publishing(publisher: Publisher, publish: Callable[[threading.Event], None], argv: list[str],
                             caplog: pytest.LogCaptureFixture) -> int:  # fmt: skip
    """``posecast listen`` on ``publisher`` with ``argv`` while ``publish(stop)`` runs on a thread
    (it returns once ``stop`` is set); its exit code. The publisher is closed after."""
    stop = threading.Event()
    thread = threading.Thread(target=publish, args=(stop,))
    thread.start()
    try:
        with caplog.at_level(logging.INFO):
            return main(["listen", "--address", publisher.address, *argv])
    finally:
        stop.set()
        thread.join()
        publisher.close()


def test_nothing_at_all_is_said_then_the_timeout_ends_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture, free_port
) -> None:  # noqa: ANN001
    monkeypatch.setattr(listen, "QUIET_NOTICE_S", 0.3)
    address = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert main(["listen", "--address", address, "--timeout", "1"]) == 2
    quiet = [r.getMessage() for r in caplog.records if "still listening" in r.getMessage()]
    assert len(quiet) == 1 and quiet[0].startswith(f"no message from {address}"), caplog.text
    assert "is `posecast run` publishing there?" in quiet[0]
    assert "no message from" in capsys.readouterr().err


def test_a_stream_that_goes_quiet_and_comes_back(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                                 capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    monkeypatch.setattr(listen, "QUIET_NOTICE_S", 0.4)
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=60.0))

    def listen_said(words: str) -> bool:
        return any(words in r.getMessage() for r in caplog.records)

    def publish(stop: threading.Event) -> None:  # poses for 1 s from listen's start, nothing until it says so,
        # poses again
        # Timed from listen's own messages, not from this thread's start: on a loaded machine
        # listen can start late enough to miss a first phase timed by the clock.
        frame_id, listening_since = 0, None
        while not stop.wait(0.03):
            if listening_since is None and listen_said("listening on"):
                listening_since = time.monotonic()
            # 1 s: ZeroMQ's subscription has to arrive first (slower on a loaded machine, review)
            first_phase = listening_since is None or time.monotonic() - listening_since < 1.0
            if first_phase or listen_said("still listening"):
                publisher.publish(_pose(frame_id))
                frame_id += 1

    assert _listen_while_publishing(publisher, publish, ["--count", "40", "--timeout", "10"], caplog) == 0
    said = [r.getMessage() for r in caplog.records]
    quiet = [m for m in said if "still listening" in m]
    assert len(quiet) == 1 and quiet[0].startswith(f"nothing more from {publisher.address}"), said
    assert "the publisher stopped?" in quiet[0]
    assert said.index(quiet[0]) < said.index(f"{publisher.address} is publishing again")
    assert capsys.readouterr().out.count("\n") == 40 + 1  # the meta on subscribing, then the poses


def test_a_publisher_that_starts_late_is_publishing_now_not_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, free_port  # noqa: ANN001
) -> None:
    monkeypatch.setattr(listen, "QUIET_NOTICE_S", 0.3)
    address = f"tcp://127.0.0.1:{free_port()}"
    stop = threading.Event()

    def publish_late() -> None:  # nothing until listen has said the stream is quiet, then poses
        # Waiting on the notice itself, not on a clock: on a loaded machine listen can take longer
        # to start than any fixed delay, and then it never sees a quiet stream at all.
        while not any("still listening" in r.getMessage() for r in caplog.records):
            if stop.wait(0.02):
                return
        publisher = Publisher(PublisherOptions(address=address, meta_interval_s=60.0))
        try:
            frame_id = 0
            while not stop.wait(0.03):
                publisher.publish(_pose(frame_id))
                frame_id += 1
        finally:
            publisher.close()

    thread = threading.Thread(target=publish_late)
    thread.start()
    try:
        with caplog.at_level(logging.INFO):
            assert main(["listen", "--address", address, "--count", "5", "--timeout", "10"]) == 0
    finally:
        stop.set()
        thread.join()
    said = [r.getMessage() for r in caplog.records]
    assert f"{address} is publishing now" in said and f"{address} is publishing again" not in said, said


@pytest.mark.parametrize(("json_lines", "metas_expected"), [(False, "one"), (True, "several")])
def test_text_lines_print_a_repeated_meta_once(capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                               json_lines: bool, metas_expected: str) -> None:  # fmt: skip
    """The publisher repeats its meta (every 0.1 s here, every second by default): the text lines
    print it when it changes, not among the poses every time (QA: 1.5 kB every second); JSON
    lines keep every message."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=0.1))

    def publish(stop: threading.Event) -> None:
        frame_id = 0
        while not stop.wait(0.03):
            publisher.publish(_pose(frame_id))
            frame_id += 1

    argv = ["--count", "40", "--timeout", "10", *(["--json"] if json_lines else [])]
    assert _listen_while_publishing(publisher, publish, argv, caplog) == 0
    lines = capsys.readouterr().out.splitlines()
    metas = [line for line in lines if line.startswith("meta:") or line.startswith('{"topic": "meta"')]
    assert len(lines) - len(metas) == 40
    assert len(metas) == 1 if metas_expected == "one" else len(metas) >= 5, metas


def test_a_new_run_is_said_and_a_stopped_publisher_is_not_blamed_on_the_address(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    """A publisher started again counts ``frame_id`` from 0 (the protocol's sign of a new run):
    listen says so. Its stop then ends --timeout with "the publisher stopped"; it said "is
    `posecast run` publishing there? check --address" after 120 poses from there (QA)."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=60.0))

    def publish(stop: threading.Event) -> None:  # from 1000 until listen has surely subscribed, 0..19, nothing
        frame_id, listening_since = 1000, None
        while not stop.wait(0.03):
            if listening_since is None and any("listening on" in r.getMessage() for r in caplog.records):
                listening_since = time.monotonic()
            if listening_since is not None and time.monotonic() - listening_since > 1.0 and frame_id >= 1000:
                frame_id = 0  # started again
            if frame_id < 20 or frame_id >= 1000:
                publisher.publish(_pose(frame_id))
                frame_id += 1

    assert _listen_while_publishing(publisher, publish, ["--timeout", "1"], caplog) == 2
    new_run = [r.getMessage() for r in caplog.records if "started a new run" in r.getMessage()]
    assert len(new_run) == 1 and new_run[0].startswith(f"{publisher.address} started a new run (frame_id 0 after 10")
    err = capsys.readouterr().err
    assert f"nothing more from {publisher.address} in 1 s (after " in err and "the publisher stopped" in err, err
    assert "check --address" not in err


def test_two_publishers_interleaving_are_not_a_new_run_every_frame(caplog: pytest.LogCaptureFixture) -> None:
    """Two runs on one address (a bind: subscriber, a broker) interleave their frame_ids: the new
    run is said at most every few seconds, not for every other frame (review)."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=60.0))

    def publish(stop: threading.Event) -> None:  # as two runs would: 1000, 0, 1001, 1, ...
        step = 0
        while not stop.wait(0.01):
            publisher.publish(_pose(1000 + step // 2 if step % 2 == 0 else step // 2))
            step += 1

    assert _listen_while_publishing(publisher, publish, ["--count", "60", "--timeout", "10"], caplog) == 0
    assert len([r for r in caplog.records if "started a new run" in r.getMessage()]) == 1


def test_a_publisher_s_control_characters_are_written_out(capsys: pytest.CaptureFixture,
                                                          caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Security QA: a meta's ESC sequences reached the terminal raw from the text lines (they set
    its title, cleared its screen and overwrote lines); JSON lines escape them as JSON does."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=0.1),
                          assumptions={"note": "\x1b]0;PWNED\x07\x1b[2J\rOVERWRITTEN"})  # fmt: skip

    def publish(stop: threading.Event) -> None:
        frame_id = 0
        while not stop.wait(0.03):
            publisher.publish(_pose(frame_id))
            frame_id += 1

    assert _listen_while_publishing(publisher, publish, ["--count", "3", "--timeout", "10"], caplog) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "note=\\x1b]0;PWNED\\x07\\x1b[2J\\rOVERWRITTEN" in out, out


def test_the_timeout_counts_poses_not_the_repeated_meta(caplog: pytest.LogCaptureFixture,
                                                       capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """A publisher sends its meta every second whether frames come or not (its keep-alive), so a
    stuck pipeline still sends it: ``--timeout`` waited for the publisher to close before it fired
    (review). It counts from the last pose and says the publisher is up."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=0.2))

    def publish(stop: threading.Event) -> None:  # poses until listen has surely subscribed, then
        # only the keep-alive's metas (for 8 s at most: without the fix listen waits for the close)
        frame_id, listening_since, started = 0, None, time.monotonic()
        while not stop.wait(0.03) and time.monotonic() - started < 8.0:
            if listening_since is None and any("listening on" in r.getMessage() for r in caplog.records):
                listening_since = time.monotonic()
            if listening_since is None or time.monotonic() - listening_since < 1.0:
                publisher.publish(_pose(frame_id))
                frame_id += 1
        publisher.close()  # (closed twice with the fix: a no-op)

    assert _listen_while_publishing(publisher, publish, ["--timeout", "1.5"], caplog) == 2
    err = capsys.readouterr().err
    assert f"no pose from {publisher.address} in 1.5 s (after " in err, err
    assert "though its meta keeps coming: the publisher is up but sends no frames" in err, err


def test_a_publisher_closed_soon_after_its_last_pose_is_not_said_to_be_up(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    """Review: its keep-alive's last metas came after the last pose, and a fixed 3 s freshness
    called the closed publisher up. A meta counts for 1.5 of the publisher's own intervals."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=0.2))

    def publish(stop: threading.Event) -> None:  # poses for 1 s of listening, metas for 0.5 s more, closed
        frame_id, listening_since = 0, None
        while not stop.wait(0.03):
            if listening_since is None and any("listening on" in r.getMessage() for r in caplog.records):
                listening_since = time.monotonic()
            if listening_since is None or time.monotonic() - listening_since < 1.0:
                publisher.publish(_pose(frame_id))
                frame_id += 1
            elif time.monotonic() - listening_since > 1.5:
                break
        publisher.close()

    assert _listen_while_publishing(publisher, publish, ["--timeout", "1.5"], caplog) == 2
    err = capsys.readouterr().err
    assert f"nothing more from {publisher.address} in 1.5 s (after " in err and "the publisher stopped" in err, err
