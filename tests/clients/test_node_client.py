"""The Node.js client (clients/node/) against a live Python publisher: real ZeroMQ sockets on
loopback, the real npm ``zeromq`` and ``@msgpack/msgpack`` packages, compared frame by frame
with the Python client (:class:`posecast.realtime.listen.Subscriber`) on the same stream."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zmq
from blackhole_proxy import BlackholeProxy
from posecast.realtime.cli import main
from posecast.realtime.schema import MetaMessage, PoseMessage
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions
from posecast.realtime.subscriber import Subscriber

NODE_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"
LISTEN_JS = NODE_DIR / "bin" / "posecast-listen.js"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm not installed (Debian: apt-get install -y nodejs npm)"
)


@pytest.fixture(scope="module")
def node_client() -> Path:
    """clients/node with its npm packages installed (``npm ci`` from the lock file when absent).
    Under a lock: ``npm ci`` first deletes ``node_modules``, which another test process (pytest-xdist
    runs this fixture once per process) may be using (QA)."""
    import fcntl

    with open(NODE_DIR / "package-lock.json", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (NODE_DIR / "node_modules" / "zeromq").is_dir():
            npm_ci = [NPM, "ci", "--no-audit", "--no-fund"]
            subprocess.run(npm_ci, cwd=NODE_DIR, check=True, capture_output=True, timeout=600)
    return NODE_DIR


def make_pose(frame_id: int) -> PoseMessage:
    rng = np.random.default_rng(frame_id)
    joints = rng.normal(size=(17, 3)).astype(np.float32) + np.float32([0, 0, 3])
    tracking = ("tracking", "warming", "lost")[frame_id % 3]
    return PoseMessage(
        frame_id=frame_id,
        capture_ns=time.monotonic_ns(),
        tracking=tracking,
        joints_m=joints,
        confidence=rng.uniform(size=17).astype(np.float32),
        root_m=joints[0].copy(),
        latency_ms={"keypoints2d": float(rng.uniform(10, 30)), "lifter": 1.25},
    )


def test_node_unit_tests(node_client: Path) -> None:
    """The package's own schema tests (node --test): v1, v2 with person_id, newer versions,
    every bad field named, exact 64-bit timestamps."""
    result = subprocess.run([NODE, "--test", "test/"], cwd=node_client, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_node_client_decodes_the_same_frames_as_python(node_client: Path, tmp_path: Path) -> None:
    count = 40
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0"), assumptions={"height_m": 1.7, "assumed": True})
    address = publisher.address
    out_path, err_path = tmp_path / "node.jsonl", tmp_path / "node.err"
    with open(out_path, "wb") as out_file, open(err_path, "wb") as err_file:  # files: a pipe could fill up
        node = subprocess.Popen(
            [NODE, str(LISTEN_JS), "--address", address, "--count", str(count), "--timeout", "30"],
            stdout=out_file,
            stderr=err_file,
        )
    python_poses: dict[int, PoseMessage] = {}
    python_meta: list[MetaMessage] = []
    stop = threading.Event()

    def publish() -> None:
        frame_id = 0
        while not stop.is_set() and frame_id < 20_000:
            publisher.publish(make_pose(frame_id))
            frame_id += 1
            time.sleep(0.005)

    thread = threading.Thread(target=publish, daemon=True)
    try:
        with Subscriber(address) as subscriber:
            thread.start()
            deadline = time.monotonic() + 60
            while node.poll() is None and time.monotonic() < deadline:
                message = subscriber.recv(timeout_s=0.5)
                if isinstance(message, PoseMessage):
                    python_poses[message.frame_id] = message
                elif isinstance(message, MetaMessage):
                    python_meta.append(message)
            node.wait(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=10)
        if node.poll() is None:
            node.kill()
        publisher.close()
    assert node.returncode == 0, err_path.read_text()

    lines = [json.loads(line) for line in out_path.read_text().splitlines()]
    node_poses = [m for m in lines if m["topic"] == "pose"]
    node_meta = [m for m in lines if m["topic"] == "meta"]
    assert len(node_poses) == count
    assert node_meta, "the node client saw no meta message (sent on subscribe and every second)"
    meta = python_meta[0]
    assert node_meta[0]["joint_names"] == list(meta.joint_names)
    assert node_meta[0]["parents"] == list(meta.parents)
    assert node_meta[0]["assumptions"] == meta.assumptions

    common = [m for m in node_poses if m["frame_id"] in python_poses]
    assert len(common) >= count // 2, f"only {len(common)} of the node client's frames reached the Python client"
    for m in common:
        py = python_poses[m["frame_id"]]
        truth = make_pose(m["frame_id"])  # same seed: the values that were sent
        scalars = ("capture_ns", "publish_ns", "publish_unix_ns", "tracking", "schema_version", "frame", "latency_ms")
        for name in scalars:
            expected = getattr(py, name)
            assert m[name] == expected, (name, m[name], expected)
        for name in ("joints_m", "confidence", "root_m"):
            node_values = np.asarray(m[name], np.float64)
            np.testing.assert_array_equal(node_values.astype(np.float32), getattr(py, name), err_msg=name)
            np.testing.assert_array_equal(node_values, getattr(py, name).astype(np.float64), err_msg=name)
            np.testing.assert_array_equal(getattr(py, name), getattr(truth, name), err_msg=name)
        assert m["tracking"] == truth.tracking
    # 64-bit wall-clock nanoseconds survive exactly (beyond 2**53, where a JS Number would round)
    assert all(m["publish_unix_ns"] > 2**53 for m in common)


@pytest.mark.skipif(NODE is None, reason="node not installed (Debian: apt-get install -y nodejs npm)")
def test_listen_says_its_timeout_in_the_seconds_it_was_given(node_client, free_port) -> None:  # noqa: ANN001
    """QA: ``--timeout 1`` ended "no message ... in 1000 ms"."""
    address = f"tcp://127.0.0.1:{free_port()}"
    result = run_listen("--address", address, "--timeout", "0.5")
    assert result.returncode == 2  # as posecast listen's --timeout (it was 1)
    said = f"posecast-listen: error: no message from {address} in 0.5 s: is posecast publishing there?\n"
    assert result.stderr == said


def run_listen(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([NODE, str(LISTEN_JS), *args], capture_output=True, text=True, timeout=timeout_s)


def assert_one_line_error(result: subprocess.CompletedProcess, problem: str, code: int = 2) -> None:
    """Exit ``code``, nothing on stdout, one line on stderr naming ``problem`` (a regex), no stack trace."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert result.stdout == "" and len(lines) == 1, result.stderr
    assert lines[0].startswith("posecast-listen: error: ") and re.search(problem, lines[0]), lines[0]


@pytest.mark.parametrize(
    "address, problem",
    [
        ("foo", r'--address: address "foo" is not tcp://HOST:PORT or ipc://PATH .*e\.g\. tcp://127\.0\.0\.1:5555'),
        ("tcp://127.0.0.1:99999", r"port 99999 of tcp://127\.0\.0\.1:99999 is outside 1\.\.65535: pass e\.g\."),
        ("tcp://127.0.0.1:0", r"port 0 .* is outside 1\.\.65535"),
        ("bind:tcp://127.0.0.1:65536", r"outside 1\.\.65535: .*port 0 for any free one"),
        ("tcp://127.0.0.1", r"has no port: expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1:http", r'port "http" .* not a number'),
        ("tcp://*:5555", r"can only be bound: .* bind:tcp://\*:5555"),
        ("ipc://", r"has no path: expected ipc://PATH"),
        ("inproc://posecast", r"inside one process"),
        ("", r"the address is empty"),
        # refused only when tried: 192.0.2.1 is a documentation address, never this machine's
        ("bind:tcp://192.0.2.1:5555", r"cannot bind tcp://192\.0\.2\.1:5555 .*: bind an address of this machine"),
        # looked up before connecting: ZeroMQ would retry a name that does not resolve for ever
        ("tcp://no-such-host.invalid:5555", r'cannot resolve the host "no-such-host\.invalid" .*pass an IP address'),
    ],
)
def test_a_bad_address_is_one_line_and_exit_2(node_client: Path, address: str, problem: str) -> None:
    assert_one_line_error(run_listen("--address", address, "--timeout", "5"), problem)


def test_binding_an_address_in_use_or_a_missing_folder_is_one_line(node_client: Path, tmp_path: Path) -> None:
    taken = zmq.Context.instance().socket(zmq.PUB)
    taken.setsockopt(zmq.LINGER, 0)
    try:
        taken.bind("tcp://127.0.0.1:0")
        endpoint = taken.getsockopt_string(zmq.LAST_ENDPOINT)
        assert_one_line_error(run_listen("--address", f"bind:{endpoint}", "--timeout", "5"), f"{endpoint} is in use")
    finally:
        taken.close()
    missing = tmp_path / "missing" / "posecast"
    result = run_listen("--address", f"bind:ipc://{missing}", "--timeout", "5")
    assert_one_line_error(result, "the folder of the ipc:// path must exist")


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--count", "0"], r'--count must be a whole number of poses, 1 or more .*got "0"'),
        (["--count", "1e3"], r'--count .*got "1e3"'),
        (["--count", "0x10"], r'--count .*got "0x10"'),
        (["--count", "2.5"], r'--count .*got "2\.5"'),
        (["--count=-3"], r'--count .*got "-3"'),
        (["--timeout", "0"], r'--timeout must be a number of seconds from more than 0 to 2147483 .*got "0"'),
        (["--timeout", "Infinity"], r'--timeout .*got "Infinity"'),  # was: no wait at all
        (["--timeout", "1e10"], r'--timeout .*got "1e10"'),  # was: ZeroMQ's 32-bit milliseconds wrapped
        (["--timeout", "abc"], r'--timeout .*got "abc"'),
        (["--timeout", "-1"], r'--timeout must be a number of seconds .*got "-1"'),  # was node's "ambiguous"
        (["--count", "-2"], r'--count must be a whole number of poses, 1 or more .*got "-2"'),
        (["--frobnicate"], r"Unknown option '--frobnicate': see --help"),
        (["tcp://127.0.0.1:5555"], r"Unexpected argument .*: see --help"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(node_client: Path, args: list[str], problem: str) -> None:
    assert_one_line_error(run_listen(*args), problem)


def _accepts(stderr: str) -> bool:
    """Whether a listener took the address: it listened and found nobody there (the timeout)."""
    return "no message from" in stderr


@pytest.mark.parametrize(
    "address",
    ["foo", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://127.0.0.1", "tcp://*:5555", "ipc://",
     "udp://127.0.0.1:5555", "tcp://127.0.0.1:5", "tcp://localhost:5", "tcp://[::1]:5", "ipc://{tmp}/x",
     "bind:tcp://127.0.0.1:0", "bind:tcp://127.0.0.1:*", "bind:ipc://{tmp}/y"],
)  # fmt: skip
def test_the_node_client_takes_the_addresses_posecast_listen_takes(
    node_client: Path, address: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    address = address.format(tmp=tmp_path)
    python_code = main(["listen", "--address", address, "--timeout", "0.2", "--count", "1"])
    python_accepts = _accepts(capsys.readouterr().err)
    node = run_listen("--address", address, "--timeout", "0.2")
    assert python_code == 2 and _accepts(node.stderr) == python_accepts, (python_accepts, node.stderr)
    assert node.returncode == python_code == 2, node.stderr  # a timeout as posecast listen's (it was 1)


def publish_until(publisher: Publisher, done: Callable[[], bool], first_id: int = 0, most: int = 6000) -> int:
    """Publish a pose every 5 ms until ``done()`` (at most ``most`` poses); returns the next frame id."""
    frame_id = first_id
    while not done() and frame_id < first_id + most:
        publisher.publish(make_pose(frame_id))
        frame_id += 1
        time.sleep(0.005)
    return frame_id


def publish_to(node: subprocess.Popen, publisher: Publisher) -> tuple[str, str]:
    """Publish poses until ``node`` ends (killed if it does not), then close ``publisher``; its stdout, stderr."""
    try:
        publish_until(publisher, lambda: node.poll() is not None)
        return node.communicate(timeout=30)
    finally:
        if node.poll() is None:
            node.kill()
        publisher.close()


def test_ipc_ipv6_and_bind_addresses_receive_poses(node_client: Path, tmp_path: Path) -> None:
    """The other accepted forms, each end to end: node connects to ipc://, node binds and the
    publisher connects, and both over IPv6 (QA: node heard nothing on tcp://[::1]:PORT, and its
    bind failed with "No such device")."""
    with socket.socket() as probe:  # a free port for node to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    forms = [(f"ipc://{tmp_path}/stream", f"ipc://{tmp_path}/stream"),
             (f"bind:tcp://127.0.0.1:{port}", f"connect:tcp://127.0.0.1:{port}")]  # fmt: skip
    if socket.has_ipv6:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port6 = probe.getsockname()[1]
        forms += [(f"tcp://[::1]:{port6}", f"tcp://[::1]:{port6}"),
                  (f"bind:tcp://[::1]:{port6}", f"connect:tcp://[::1]:{port6}")]  # fmt: skip
    for node_address, publisher_address in forms:
        args = ["--address", node_address, "--count", "3", "--timeout", "30", "--poses-only"]
        node = subprocess.Popen(
            [NODE, str(LISTEN_JS), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        out, err = publish_to(node, Publisher(PublisherOptions(address=publisher_address)))
        assert node.returncode == 0, err
        assert [json.loads(line)["topic"] for line in out.splitlines()] == ["pose"] * 3, node_address


def test_a_reader_that_goes_away_ends_the_listening_quietly(node_client: Path) -> None:
    """`posecast-listen | head -1`: the closed pipe ends it with exit 0, not an EPIPE stack trace."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0"))
    read_end, write_end = os.pipe()
    node = subprocess.Popen([NODE, str(LISTEN_JS), "--address", publisher.address, "--timeout", "30"],
                            stdout=write_end, stderr=subprocess.PIPE, text=True)  # fmt: skip
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            frame_id = publish_until(publisher, lambda: bool(select.select([reader], [], [], 0)[0]))
            assert reader.readline().startswith(b'{"topic":')
        # the reader is gone: the next line node writes meets a closed pipe
        publish_until(publisher, lambda: node.poll() is not None, first_id=frame_id, most=400)
        _, err = node.communicate(timeout=30)
    finally:
        if node.poll() is None:
            node.kill()
        publisher.close()
    assert node.returncode == 0 and err == "", err


def test_help_lists_every_option(node_client: Path) -> None:
    """Every error ends "see --help": the help names each option (it was the usage line alone)."""
    run = subprocess.run([NODE, str(LISTEN_JS), "--help"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stderr == ""
    for option in ("--address ADDR", "--count N", "--timeout S", "--text", "--poses-only", "exit codes"):
        assert option in run.stdout


@pytest.mark.parametrize("port", ["0", "*"])
def test_the_node_client_bound_to_any_free_port_says_which(node_client: Path, port: str) -> None:
    """QA: bound to port 0 or *, posecast-listen said nothing of the port ZeroMQ chose, and no
    publisher could be pointed at it. It names it, as ``posecast listen`` does, and in its timeout."""
    result = run_listen("--address", f"bind:tcp://127.0.0.1:{port}", "--timeout", "0.3")
    bound = re.search(r"^posecast-listen: listening on (bind:tcp://127\.0\.0\.1:(\d+))$", result.stderr, re.MULTILINE)
    assert bound is not None and int(bound[2]) > 0, result.stderr
    assert result.returncode == 2 and f"no message from {bound[1]} in 0.3 s" in result.stderr, result.stderr


def test_text_mode_says_a_new_run_and_a_stopped_publisher(node_client: Path) -> None:
    """``--text``: a meta line when the meta changes (it printed the repeated one every second,
    without the assumptions that tell two runs apart), a new run said when ``frame_id`` counts
    again from below, and a timeout after poses blamed on the publisher stopping, not on the
    address (QA)."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=0.05),
                          assumptions={"model": "first", "hfov_deg": 60.0})  # fmt: skip
    node = subprocess.Popen([NODE, str(LISTEN_JS), "--address", publisher.address, "--text", "--timeout", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    # (3 s, not 1: under a loaded CI a listener that waited 1 s for a core ended before the second run)
    try:
        frame_id = publish_until(publisher, lambda: bool(select.select([node.stdout], [], [], 0)[0]), first_id=1000)
        publish_until(publisher, lambda: False, first_id=frame_id, most=40)  # 0.2 s: the meta repeated 4 times
        publisher.meta.assumptions["model"] = "second"  # the run started again, with another model
        publish_until(publisher, lambda: False, first_id=0, most=40)
        time.sleep(0.2)  # the last poses out, then the publisher stops (open, it repeats its meta every second)
        publisher.close()
        out, err = node.communicate(timeout=30)  # the publisher is gone: --timeout ends it
    finally:
        if node.poll() is None:
            node.kill()
        publisher.close()
    metas = [line for line in out.splitlines() if line.startswith("meta:")]
    assert [m.split("assumptions: ")[1] for m in metas] == ["model=first, hfov_deg=60", "model=second, hfov_deg=60"]
    lines = err.strip().splitlines()
    said = re.match(r"posecast-listen: a new run started \(frame_id 0 after (\d+)\)", lines[0])
    assert len(lines) == 2 and said and int(said[1]) >= 1000, err  # (1107 where node took long to start: loaded)
    assert node.returncode == 2 and re.fullmatch(rf"posecast-listen: error: nothing more from {publisher.address} in "
                                                 r"3 s \(after \d+ poses\): the publisher stopped", lines[1]), err


# Node preloaded with this steps its wall clock (Date.now) back 1 h once the first new run is said
STEP_BACK_AFTER_FIRST_NEW_RUN = """
const realNow = Date.now;
let offsetMs = 0;
Date.now = () => realNow() + offsetMs;
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  if (String(chunk).includes("a new run started")) offsetMs = -3600 * 1000;
  return write(chunk, ...rest);
};
"""


def test_a_new_run_is_said_after_the_wall_clock_stepped_back(node_client: Path, tmp_path: Path) -> None:
    """QA (libfaketime): the 5 s between two "new run" lines were counted on the wall clock, so
    after it stepped back 1 h the next run was not said for an hour. Counted on the monotonic clock."""
    preload = tmp_path / "step_back.cjs"
    preload.write_text(STEP_BACK_AFTER_FIRST_NEW_RUN)
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0"))
    node = subprocess.Popen([NODE, "--require", str(preload), str(LISTEN_JS), "--address", publisher.address,
                             "--timeout", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        frame_id = publish_until(publisher, lambda: bool(select.select([node.stdout], [], [], 0)[0]), first_id=1000)
        publish_until(publisher, lambda: False, first_id=frame_id, most=20)
        second_run_at = time.monotonic()
        frame_id = publish_until(publisher, lambda: False, first_id=0, most=20)  # said; the wall clock steps back
        while time.monotonic() - second_run_at < 5.5:  # past the 5 s between two new-run lines
            frame_id = publish_until(publisher, lambda: False, first_id=frame_id, most=20)
        publish_until(publisher, lambda: False, first_id=0, most=40)  # the third run
        time.sleep(0.2)  # the last poses out, then the publisher stops (open, it repeats its meta every second)
        publisher.close()
        _, err = node.communicate(timeout=30)  # the publisher is gone: --timeout ends it
    finally:
        if node.poll() is None:
            node.kill()
        publisher.close()
    said = [line for line in err.splitlines() if "a new run started" in line]
    assert len(said) == 2 and said[1].startswith("posecast-listen: a new run started (frame_id 0 after "), err


def test_stream_is_another_name_for_address(node_client: Path) -> None:
    """As ``posecast view`` names it (QA); both at once is one line, exit 2."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    waited = run_listen("--stream", address, "--timeout", "0.3")
    assert waited.returncode == 2 and f"no message from {address}" in waited.stderr, waited.stderr
    assert_one_line_error(run_listen("--stream", address, "--address", address), "name the same thing: give one")


def test_the_text_lines_write_a_publisher_s_control_characters_out(node_client: Path) -> None:
    """Security QA: ``--text`` printed a meta's ESC sequences raw (the terminal's title set, its
    screen cleared); they are written out, as posecast listen writes them."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=0.05),
                          assumptions={"note": "\x1b]0;PWNED\x07\x1b[2J\rOVERWRITTEN"})  # fmt: skip
    node = subprocess.Popen([NODE, str(LISTEN_JS), "--address", publisher.address, "--count", "60", "--timeout", "30",
                             "--text"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out, err = publish_to(node, publisher)
    assert node.returncode == 0, err
    assert "\x1b" not in out and "\r" not in out and "note=\\x1b]0;PWNED\\x07\\x1b[2J\\rOVERWRITTEN" in out, out


def test_a_bad_message_s_text_reaches_stderr_written_out(node_client: Path) -> None:
    """Review: the "skipping a message" line quoted what the publisher sent (a tracking value, a
    topic) with its ESC sequences raw; it is written out as the text lines are."""
    import msgpack

    context = zmq.Context.instance()
    publisher = context.socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    port = publisher.bind_to_random_port("tcp://127.0.0.1")
    node = subprocess.Popen([NODE, str(LISTEN_JS), "--address", f"tcp://127.0.0.1:{port}", "--count", "1",
                             "--timeout", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    from posecast.realtime.schema import encode_pose_message

    fields = msgpack.unpackb(encode_pose_message(make_pose(1)))
    bad = msgpack.packb({**fields, "tracking": "\x1b]0;PWNED\x07\x1b[2J"})  # a pose but for its tracking
    try:
        deadline = time.monotonic() + 20
        while node.poll() is None and time.monotonic() < deadline:
            publisher.send_multipart([b"pose", bad])
            time.sleep(0.05)
        _, err = node.communicate(timeout=30)
    finally:
        if node.poll() is None:
            node.kill()
        publisher.close()
    assert "skipping a message" in err and "\x1b" not in err and "\x07" not in err, err


def test_the_node_client_hears_poses_again_after_its_path_died_silently(node_client: Path) -> None:
    """A path that dies without FIN or RST (Wi-Fi roaming, sleep, a NAT that forgot the flow),
    through a proxy that blackholes the open connection: a pose sent after the break arrives within
    8 s, by a new connection (network QA: without heartbeats, none for the 30 s left of the run)."""
    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0"))
    proxy = BlackholeProxy(int(publisher.address.rsplit(":", 1)[1]))
    node = subprocess.Popen([NODE, str(LISTEN_JS), "--address", f"tcp://127.0.0.1:{proxy.port}", "--poses-only",
                             "--timeout", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    heard: list[int] = []
    reader = threading.Thread(target=lambda: heard.extend(json.loads(line)["frame_id"] for line in node.stdout))
    reader.start()
    try:
        frame_id = publish_until(publisher, lambda: bool(heard) or node.poll() is not None, most=2000)  # 10 s
        assert heard, node.stderr.read() if node.poll() is not None else "no pose before the break"
        connections_at_break = proxy.connections
        proxy.blackhole()
        sent_before_break, deadline = frame_id - 1, time.monotonic() + 8.0
        frame_id = publish_until(publisher, lambda: max(heard) > sent_before_break or time.monotonic() > deadline,
                                 first_id=frame_id)  # fmt: skip
        assert max(heard) > sent_before_break, f"no pose in 8 s after the path died silently ({frame_id} sent)"
        assert proxy.connections > connections_at_break  # heard through a new connection
    finally:
        node.kill()
        node.communicate(timeout=30)
        reader.join()
        proxy.close()
        publisher.close()
