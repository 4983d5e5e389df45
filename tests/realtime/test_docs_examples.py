"""The Python reader in docs/protocol.md, run as a user would copy it, against a real stream
(``posecast replay`` of a recorded take, in another process): it prints a pose per message and
ends once the stream has gone quiet."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from posecast.realtime.types import TRACKING_STATES

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOCS_ADDRESS = "tcp://127.0.0.1:5555"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_subscriber_example_reads_a_replayed_take(dance_take: Path, free_port, tmp_path: Path) -> None:  # noqa: ANN001
    (example,) = [b for b in _python_blocks(PROTOCOL.read_text()) if "Subscriber(" in b]
    assert DOCS_ADDRESS in example
    address = f"tcp://127.0.0.1:{free_port()}"
    script = tmp_path / "reader.py"
    script.write_text(example.replace("timeout_s=5.0", "timeout_s=8.0").replace(DOCS_ADDRESS, address))
    out = _reader_output(script, dance_take, address)
    lines = out.splitlines()
    assert len(lines) >= 40, out  # the take has 60 frames with the dancer in most
    # person id, the head (numpy, metres, camera frame: above the pelvis, in front), the foot contacts
    number = r"(-?\d+(?:\.\d*)?(?:e[-+]\d+)?)"
    match = re.fullmatch(rf"0 \[\s*{number}\s+{number}\s+{number}\s*\] \[(True|False), (True|False)\]", lines[-1])
    assert match is not None, lines[-1]
    assert float(match[2]) < 0 and 1.0 < float(match[3]) < 10.0, lines[-1]


def _plain_pyzmq_examples() -> list[tuple[str, str]]:
    readme = PROTOCOL.parents[1] / "README.md"
    return [(path.name, block) for path in (readme, PROTOCOL) for block in _python_blocks(path.read_text())
            if "recv_multipart" in block]  # fmt: skip


def test_the_plain_pyzmq_examples_read_a_replayed_take(dance_take: Path, free_port, tmp_path: Path) -> None:  # noqa: ANN001
    """The README's and protocol.md's readers without posecast (pyzmq and msgpack alone), with
    the 1 MiB limit the protocol asks readers to set, read real poses; each loops for ever, so
    the test bounds its loop to 10 messages. The publisher waits 4 s before its first pose,
    sending its meta every second: a reader must not take that for a dead path (docs QA: the
    examples subscribed to poses alone and connected again every 3 s while a publisher loaded)."""
    examples = _plain_pyzmq_examples()
    assert [name for name, _ in examples] == ["README.md", "protocol.md"]
    for name, example in examples:
        assert "zmq.MAXMSGSIZE, 1 << 20" in example and 'if topic != b"pose"' in example, name
        address = f"tcp://127.0.0.1:{free_port()}"
        script = tmp_path / f"{name}.py"
        bounded = (example.replace(DOCS_ADDRESS, address).replace("while True:", "for _ in range(10):")
                   .replace("sub.disconnect(", "print('reconnected', flush=True) or sub.disconnect("))  # fmt: skip
        script.write_text(bounded + '\nprint(msg["frame_id"], msg["tracking"], len(msg["joints_m"]))\n')
        out = _reader_output(script, dance_take, address, wait_s=4)
        assert "reconnected" not in out, (name, out)
        frame_id, tracking, joints = out.split()
        assert int(frame_id) >= 0 and tracking in TRACKING_STATES and joints == "17", (name, out)


def _reader_output(script: Path, take: Path, address: str, wait_s: float = 2) -> str:
    """What the reader ``script`` prints while ``posecast replay`` publishes ``take`` at ``address``
    (the reader must end by itself, exit 0)."""
    reader = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        command = ["replay", str(take), "--publish", address, "--speed", "4", "--wait", f"{wait_s:g}"]
        replay = subprocess.run([sys.executable, "-m", "posecast.realtime.cli", *command], capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert replay.returncode == 0, replay.stderr
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0, (script.name, err)
    return out
