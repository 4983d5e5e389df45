"""A real VMC receiver for the tests: a python-osc UDP server in another process (forked) that
checks every message's arguments, groups them into frames (``/VMC/Ext/T`` closes a frame) and
rebuilds each frame by forward kinematics down Unity's humanoid hierarchy, written out here
independently of ``posecast.engines.humanoid``."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized

import numpy as np
from posecast.engines import skeleton
from scipy.spatial.transform import Rotation

J = skeleton.JOINT_INDEX

#: Unity's humanoid hierarchy and where each bone sits, written out here independently of
#: posecast.engines.humanoid: bone → (parent, posecast joint at the bone).
UNITY = {
    "Hips": (None, "pelvis"), "Spine": ("Hips", "spine"), "Chest": ("Spine", "thorax"), "Neck": ("Chest", "neck"),
    "Head": ("Neck", "head"), "LeftShoulder": ("Chest", None), "LeftUpperArm": ("LeftShoulder", "l_shoulder"),
    "LeftLowerArm": ("LeftUpperArm", "l_elbow"), "LeftHand": ("LeftLowerArm", "l_wrist"),
    "RightShoulder": ("Chest", None), "RightUpperArm": ("RightShoulder", "r_shoulder"),
    "RightLowerArm": ("RightUpperArm", "r_elbow"), "RightHand": ("RightLowerArm", "r_wrist"),
    "LeftUpperLeg": ("Hips", "l_hip"), "LeftLowerLeg": ("LeftUpperLeg", "l_knee"),
    "LeftFoot": ("LeftLowerLeg", "l_ankle"),
    "RightUpperLeg": ("Hips", "r_hip"), "RightLowerLeg": ("RightUpperLeg", "r_knee"),
    "RightFoot": ("RightLowerLeg", "r_ankle"),
}  # fmt: skip


def receive(port_queue: multiprocessing.Queue, out_queue: multiprocessing.Queue, frames: int, timeout_s: float,
            frames_seen: Synchronized) -> None:  # fmt: skip
    """The receiver process: a python-osc UDP server that checks every message's arguments,
    groups them into frames (``/VMC/Ext/T`` closes a frame, counted in ``frames_seen``), rebuilds
    each frame by forward kinematics and sends ``{time_s: {"joints": (17, 3) Unity world, "ok":
    args, ...}}`` back."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    received: list[tuple[str, tuple]] = []

    def on_message(address: str, *args: object) -> None:
        received.append((address, args))
        if address == "/VMC/Ext/T":
            frames_seen.value += 1

    dispatcher = Dispatcher()
    dispatcher.set_default_handler(on_message)
    server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    server.timeout = 0.1
    port_queue.put(server.server_address[1])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and sum(a == "/VMC/Ext/T" for a, _ in received) < frames:
        server.handle_request()
    server.server_close()
    result, errors, bones, root, ok = {}, [], {}, None, None
    for address, args in received:
        if address == "/VMC/Ext/Bone/Pos":
            if len(args) != 8 or not isinstance(args[0], str) or not all(isinstance(v, float) for v in args[1:]):
                errors.append(f"bad bone message {args!r}")
            elif args[0] not in UNITY:
                errors.append(f"unknown bone {args[0]}")
            bones[args[0]] = np.array(args[1:], dtype=np.float64)
        elif address == "/VMC/Ext/Root/Pos":
            if args[0] != "root" or len(args) != 8:
                errors.append(f"bad root message {args!r}")
            root = np.array(args[1:], dtype=np.float64)
        elif address == "/VMC/Ext/OK":
            ok = args
        elif address == "/VMC/Ext/T":
            result[float(args[0])] = {"joints": _rebuild(root, bones) if bones else None, "ok": ok, "bones": len(bones),
                                      "root": root, "rotations": {n: b[3:] for n, b in bones.items()}}  # fmt: skip
            bones, root = {}, None
        else:
            errors.append(f"unexpected address {address}")
    out_queue.put({"frames": result, "errors": errors, "messages": len(received)})


def _rebuild(root: np.ndarray, bones: dict[str, np.ndarray]) -> np.ndarray:
    """Forward kinematics down Unity's hierarchy from the root → the 17 joints (Unity axes)."""
    world: dict[str | None, tuple[np.ndarray, Rotation]] = {None: (root[:3], Rotation.from_quat(root[3:]))}
    for name, (parent, _) in UNITY.items():  # parents come first
        position, turn = world[parent]
        local = bones[name]
        world[name] = (position + turn.apply(local[:3]), turn * Rotation.from_quat(local[3:]))
    joints = np.zeros((17, 3))
    for name, (_, joint) in UNITY.items():
        if joint is not None:
            joints[J[joint]] = world[name][0]
    return joints


@dataclass
class Receiving:
    """A started receiver: ``port``, ``collect()`` (its result), and :meth:`caught_up`; unpacks
    as ``port, collect``."""

    port: int
    _out: multiprocessing.Queue
    _frames_seen: Synchronized
    _timeout_s: float

    def __iter__(self) -> Iterator[object]:
        return iter((self.port, self.collect))

    def collect(self) -> dict:
        return self._out.get(timeout=self._timeout_s + 10)

    def caught_up(self, frames: int, timeout_s: float = 2.0) -> None:
        """Wait (at most ``timeout_s``) until the receiver has seen ``frames`` frames: a sender
        that runs ahead of a receiver the machine has not scheduled (a loaded CI: 117 of 121
        frames arrived) overflows its socket buffer, and UDP drops what does not fit."""
        deadline = time.monotonic() + timeout_s
        while self._frames_seen.value < frames and time.monotonic() < deadline:
            time.sleep(0.001)


@contextlib.contextmanager
def start_receiver() -> Iterator[Callable[..., Receiving]]:
    """Yields ``start(frames, timeout_s=30) -> Receiving`` (``port, collect = start(n)``);
    ``collect()`` waits for the receiver's result ``{"frames": {time_s: {"joints", "ok", "bones",
    "root", "rotations"}}, "errors", "messages"}`` (``root``: the frame's root message's 7
    numbers, ``None`` when the frame sent none; ``rotations``: each bone's quaternion as sent)."""
    ctx = multiprocessing.get_context("fork")
    processes = []

    def start(frames: int, timeout_s: float = 30.0) -> Receiving:
        port_queue, out_queue, frames_seen = ctx.Queue(), ctx.Queue(), ctx.Value("i", 0)
        process = ctx.Process(target=receive, args=(port_queue, out_queue, frames, timeout_s, frames_seen),
                              daemon=True)  # fmt: skip
        process.start()
        processes.append(process)
        return Receiving(port_queue.get(timeout=10), out_queue, frames_seen, timeout_s)

    try:
        yield start
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
