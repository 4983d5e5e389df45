"""A stream address whose host name does not resolve is refused at once, in one line (before,
ZeroMQ retried it in the background and a subscriber waited without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest
from posecast.engines.errors import PosecastError
from posecast.realtime.cli import main
from posecast.realtime.endpoints import check_host
from posecast.realtime.subscriber import Subscriber

BAD = "tcp://no-such-host.invalid:5555"  # .invalid never resolves (RFC 2606)


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:5555", "tcp://[::1]:5555", "tcp://localhost:5555",
                                      "tcp://*:5555", "ipc:///tmp/x", "tcp://127.0.0.1;localhost:5555"])  # fmt: skip
def test_addresses_that_resolve_pass(endpoint: str) -> None:
    check_host(endpoint)


def test_the_subscriber_refuses_an_unresolvable_host() -> None:
    with pytest.raises(PosecastError, match=r"cannot resolve the host 'no-such-host\.invalid'"):
        Subscriber(BAD)


def test_listen_says_so_in_one_line(capsys: pytest.CaptureFixture) -> None:
    assert main(["listen", "--address", BAD]) == 2  # without --timeout it used to wait for ever
    err = capsys.readouterr().err.strip()
    assert err.startswith("posecast: error: cannot resolve the host") and "\n" not in err


def test_a_publisher_connecting_to_an_unresolvable_host_is_refused(
    media_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--frames", "2",
            "--publish", f"connect:{BAD}"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot resolve the host 'no-such-host.invalid'" in err and "\n" not in err


def test_binding_to_an_unresolvable_host_says_so(media_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """Bound, the same name said ZeroMQ's "No such device" (error-contract QA)."""
    argv = ["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--frames", "2", "--publish", BAD]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot resolve the host 'no-such-host.invalid'" in err and "\n" not in err, err
