"""The VMC protocol output: an avatar driven over OSC/UDP (``--vmc HOST:PORT``).

VMC (Virtual Motion Capture protocol, https://protocol.vmc.info, sh-akira/VirtualMotionCaptureProtocol)
is what VSeeFace, VNyan, Warudo, EVMC4U (Unity), VMC4UE (Unreal) and many VTuber tools receive. posecast
is a *Performer*: it sends to a *Marionette* (default port 39539). Per frame, for one person: the
first tracked (lowest person id), followed while their id is held (missed for up to a second, the
avatar holds); once it is forgotten, whoever is tracked within :data:`NEAR_M` of where that person
stood, else someone new since (they came back, as a new id, or a replay's next pass), else, after
:data:`HOLD_AFTER_FORGOTTEN_S` more of holding, whoever was in view already (QA: a friend in view
took the avatar the moment the streamer's id was forgotten, a 2.8 m jump, and kept it when she came
back a moment later):

- ``/VMC/Ext/Root/Pos "root" p.xyz q.xyzw``: the avatar's root, unturned, on the floor below the
  pelvis when the person stands, on both legs or one (it goes down as they crouch, up as they
  jump): the pelvis in the world frame (:mod:`posecast.calibration.floor`) less its standing
  height over the leg that carries them (:func:`hips_above_root_m`);
- ``/VMC/Ext/Bone/Pos NAME p.xyz q.xyzw`` for the 19 bones of :mod:`posecast.engines.humanoid`
  (Unity ``HumanBodyBones`` names): local position and rotation in Unity's axes (left-handed,
  y up, metres; :mod:`posecast.engines.frames`), relative to the T-pose rest; the Hips sit the
  standing height above the root. Receivers that apply only the root's position and the bones'
  rotations (EVMC4U with *Bone Position Synchronize* off) keep the avatar's own proportions and
  still travel, crouch and jump; those that also apply bone positions get the person's. Each
  bone's quaternion is sent in the hemisphere of the last one sent for it (receivers that
  interpolate the components do not turn the long way round);
- ``/VMC/Ext/OK 1 3 0 tracking``: a model is loaded, calibrated, normal mode, and whether the
  person is tracked (V2.7; 0 while nobody is: no bone goes out, the root is the last one again,
  and the avatar holds its last pose where it stood);
- ``/VMC/Ext/T time``: seconds of the stream's clock since the first frame.

When the output closes (the run ends or is stopped) one more bundle says nobody is tracked (the
held root, OK with tracking 0, the last T), so that a receiver does not show the last pose as live.

The messages of a frame go out as OSC bundles that fit one Ethernet frame of 1500 bytes, as the
protocol asks, with the IP and UDP headers: 1472 bytes of bundle over IPv4, 1452 over IPv6 (a
bundle of 1480 bytes was split into IP fragments, and a lost fragment lost every bone of the
frame; QA). A whole frame is about 1.7 kB, so two bundles: the bones first, then the root, OK
and T closing the frame. Sending never blocks: the socket is non-blocking and a datagram the kernel cannot
take is dropped and counted (:attr:`VmcSink.dropped_datagrams`).
"""

from __future__ import annotations

import argparse
import logging
import numbers
import socket

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from ...calibration import floor
from ...engines import frames, humanoid, skeleton
from ...engines.cli_args import names_a_file
from ...engines.rotations import SignContinuity
from ..avatar import AvatarFrame, AvatarOptions, AvatarWorld
from ..avatar_arguments import avatar_options
from ..errors import OptionsError, PublishError
from ..stages import Sink
from ..types import PoseFrame, StreamMeta

log = logging.getLogger(__name__)

DEFAULT_PORT = 39539
#: Metres (along the floor) from where the avatar's person last stood within which someone tracked
#: after their id was forgotten is taken for them, come back.
NEAR_M = 1.0
#: Seconds the avatar holds, once its person's id is forgotten, before it follows someone tracked
#: elsewhere.
HOLD_AFTER_FORGOTTEN_S = 4.0
#: The person id of nobody: the avatar holds.
_NOBODY = -1

#: The protocol's limit, one Ethernet frame (1500 bytes), less the IPv4 and UDP headers (20 + 8):
#: the most an OSC bundle may hold; over IPv6, :data:`MAX_BUNDLE_BYTES_IPV6` (a 40-byte header).
MAX_BUNDLE_BYTES = 1500 - 20 - 8
MAX_BUNDLE_BYTES_IPV6 = 1500 - 40 - 8
_UNITY = frames.get_frame("unity")
_IDENTITY = (0.0, 0.0, 0.0, 1.0)
ROOT_ADDRESS = "/VMC/Ext/Root/Pos"


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, ``:PORT`` or a bare ``PORT``) → ``(host, port)``; default host
    127.0.0.1 (a bare number is a port: as a host it would be the IPv4 address 0.0.x.y)."""
    given = text.strip()
    if not given:
        raise OptionsError(f"--vmc is empty: pass HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}), or --vmc alone for that")
    if "://" in given:  # (it was taken for an IPv6 address; QA)
        raise OptionsError(f"--vmc {given}: VMC goes over UDP to HOST:PORT, without a scheme (e.g. "
                           f"127.0.0.1:{DEFAULT_PORT})")  # fmt: skip
    if names_a_file(given):  # an input given after a bare --vmc (QA: "cannot resolve the VMC host 'clip.mp4'")
        raise OptionsError(f"--vmc {given}: that is a file name, not HOST:PORT (--vmc takes the next word for its "
                           f"address): give --vmc an address, e.g. --vmc 127.0.0.1:{DEFAULT_PORT}")  # fmt: skip
    if given.startswith("[") and "]" not in given or given.startswith("-"):
        raise OptionsError(f"--vmc needs HOST:PORT with a port in 1..65535, got {given!r} (e.g. 127.0.0.1:"
                           f"{DEFAULT_PORT}, or [::1]:{DEFAULT_PORT})")  # fmt: skip
    if given.count(":") > 1 and "." in given and given.replace(".", "").replace(":", "").isdigit():
        raise OptionsError(f"--vmc {given}: one port after the host, HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT})")
    if given.count(":") > 1 and not given.startswith("["):  # an IPv6 address: which colon starts the port?
        raise OptionsError(f"--vmc {given}: an IPv6 address goes in brackets, [ADDRESS]:PORT (e.g. "
                           f"[::1]:{DEFAULT_PORT})")  # fmt: skip
    if given.endswith(":"):  # (QA: ":" and "127.0.0.1:" were taken as the default port without a word)
        raise OptionsError(f"--vmc {given}: the port after the colon is missing: pass HOST:PORT (e.g. "
                           f"127.0.0.1:{DEFAULT_PORT}), or HOST alone for port {DEFAULT_PORT}")  # fmt: skip
    spec = f":{given}" if given.isdigit() else given
    host, _, port_text = spec.rpartition(":") if ":" in spec and not spec.endswith("]") else (spec, ":", "")
    host = host.strip("[]") or "127.0.0.1"
    # ASCII digits alone: int() also took "1_000", "+80", " 39539" and other scripts' digits (QA)
    port = (int(port_text) if port_text.isascii() and port_text.isdigit() else -1) if port_text else DEFAULT_PORT
    if not 0 < port < 65536:
        raise OptionsError(
            f"--vmc needs HOST:PORT with a port in 1..65535, got {given!r} (e.g. 127.0.0.1:{DEFAULT_PORT})"
        )
    return host, port


def frame_messages(avatar: AvatarFrame, time_s: float, held_root_m: np.ndarray | None = None,
                   person_id: int | None = None, signs: SignContinuity | None = None) -> list[OscMessage]:  # fmt: skip
    """The VMC messages of one frame (module docstring), for person ``person_id`` (``None``: the
    first tracked person). With that person not tracked in this frame no bone goes out and the
    root is ``held_root_m``, the last one sent (none before anyone was seen): a receiver that
    synchronises the root would otherwise move the avatar to the origin. ``signs``: the output's
    own, keeping each bone's quaternion in the hemisphere of the last one sent."""
    messages = []
    if person_id is None:
        person = avatar.people[0] if avatar.people else None
    else:
        person = next((p for p in avatar.people if p.person_id == person_id), None)
    root = held_root_m
    if person is not None:
        pose = humanoid.humanoid_pose(person.bones, _UNITY)
        positions = pose.positions[0].copy()
        # the root carries the pelvis's travel, the Hips their standing height (see the module
        # docstring), the legs weighed as sent: a leg held out of view, not the detector's guess
        standing = np.array([0.0, hips_above_root_m(person.posed_joints_world_m, person.bones.bone_lengths_m,
                                                    person.ankles_seen.all()), 0.0])  # fmt: skip
        root, positions[0] = positions[0] - standing, standing
        quats = pose.rotations[0] if signs is None else signs("avatar", pose.rotations[0])
        for name, position, rotation in zip(humanoid.BONE_NAMES, positions, quats, strict=True):
            messages.append(_message("/VMC/Ext/Bone/Pos", [name, *position, *rotation]))
    return messages + closing_messages(root, person is not None, time_s)


def closing_messages(root_m: np.ndarray | None, tracked: bool, time_s: float) -> list[OscMessage]:
    """What closes every frame: the root (none before anyone was seen), OK with ``tracked`` and T."""
    root = [] if root_m is None else [_message(ROOT_ADDRESS, ["root", *root_m, *_IDENTITY])]
    return [*root, _message("/VMC/Ext/OK", [1, 3, 0, int(tracked)]), _message("/VMC/Ext/T", [float(time_s)])]


#: An ankle this much higher than the other, in metres, carries no weight in
#: :func:`hips_above_root_m` (the floor's own threshold for a raised foot); level ankles share it.
RAISED_FOOT_M = floor.FloorOptions().raised_foot_m
_HIPS, _ANKLES = [skeleton.JOINT_INDEX[f"{s}_hip"] for s in "lr"], [skeleton.JOINT_INDEX[f"{s}_ankle"] for s in "lr"]
_LEG_BONES = [[skeleton.BONE_NAMES.index(f"{s}_hip-{s}_knee"), skeleton.BONE_NAMES.index(f"{s}_knee-{s}_ankle")]
              for s in "lr"]  # fmt: skip


def hips_above_root_m(joints_world_m: np.ndarray, bone_lengths_m: np.ndarray, ankles_seen: bool = True) -> float:
    """How far the Hips (the pelvis) sit above the root: where the person would stand straight on
    the leg that carries them, that leg's hip its thigh, shin and the ankle's own height
    (:data:`posecast.calibration.floor.ANKLE_HEIGHT_FRACTION`) above the floor, and the pelvis
    where it is against that hip. Both legs are weighted by how much lower each ankle is: level,
    half each (the mean of the legs); one :data:`RAISED_FOOT_M` or more above the other, the
    lower leg alone, in between linearly, so the root never jumps. With the mean of both legs
    alone the root floated by the difference while the dancer stood on her longer leg, her
    pelvis tilted over it (QA: 4 cm median, 8 cm at most, on the shared dance clip). Unless
    ``ankles_seen`` (both), half each: an unseen ankle is the detector's guess (legs out of view
    at a desk), and the root would swing between the legs with it (review).
    ``joints_world_m`` ``(17, 3)``, y up."""
    joints = np.asarray(joints_world_m, dtype=np.float64)
    lengths = np.asarray(bone_lengths_m, dtype=np.float64).reshape(-1, len(skeleton.BONES))[0]
    left_lower_m = joints[_ANKLES[1], 1] - joints[_ANKLES[0], 1]  # how much lower the left ankle is
    left_weight = float(np.clip(0.5 + 0.5 * left_lower_m / RAISED_FOOT_M, 0.0, 1.0)) if ankles_seen else 0.5
    weights = np.array([left_weight, 1.0 - left_weight])
    legs_m = lengths[_LEG_BONES].sum(axis=1)  # (left, right) thigh + shin
    pelvis_over_hips_m = joints[skeleton.ROOT, 1] - joints[_HIPS, 1]
    ankle_m = skeleton.standing_ankle_height_m(lengths)
    return float(weights @ (legs_m + pelvis_over_hips_m) + ankle_m)


def pack_bundles(messages: list[OscMessage], max_bytes: int = MAX_BUNDLE_BYTES) -> list[bytes]:
    """Messages → as few OSC bundles of at most ``max_bytes`` as keep their order."""
    bundles, builder, size = [], None, 0
    for message in messages:
        cost = 4 + message.size  # each element is preceded by its size
        if builder is not None and size + cost > max_bytes:
            bundles.append(builder.build().dgram)
            builder = None
        if builder is None:
            builder, size = OscBundleBuilder(IMMEDIATELY), 16  # "#bundle\0" + the time tag
        builder.add_content(message)
        size += cost
    if builder is not None:
        bundles.append(builder.build().dgram)
    return bundles


def _message(address: str, args: list) -> OscMessage:
    builder = OscMessageBuilder(address)
    for value in args:
        if isinstance(value, str):
            builder.add_arg(value, "s")
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            builder.add_arg(int(value), "i")
        else:
            builder.add_arg(float(value), "f")
    return builder.build()


class VmcSink(Sink):
    """Drives one avatar over the VMC protocol (module docstring). ``address`` ``(host, port)``;
    ``avatar``: the floor and mirror options. Runs on its own thread (building the messages
    costs about a millisecond); sending never blocks."""

    name = "vmc"

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", DEFAULT_PORT), avatar: AvatarOptions | None = None):
        host, port = address if isinstance(address, tuple) and len(address) == 2 else (None, None)
        if not isinstance(host, str) or not isinstance(port, numbers.Integral) or isinstance(port, bool):
            raise TypeError(f"address must be (host, port), e.g. ('127.0.0.1', {DEFAULT_PORT}), got {address!r}")
        if not 1 <= port <= 65535:  # (API QA: 70000 was sent to port 4464, while the log said 70000)
            raise OptionsError(f"VMC port {port} is outside 1..65535: pass e.g. ('127.0.0.1', {DEFAULT_PORT})")
        self.address = (host, int(port))
        self.world = AvatarWorld(avatar)
        self.sent_datagrams = 0
        self.dropped_datagrams = 0
        self._first_ns: int | None = None
        self._time_s: float | None = None  # the last frame's T
        self._root_m: np.ndarray | None = None  # the last root sent: held while its person is not tracked
        self._person_id: int | None = None  # the person the avatar follows
        self._stood_m: np.ndarray | None = None  # where they last stood (their world pelvis)
        self._forgotten_s: float | None = None  # when their id was forgotten (stream clock)
        self._in_view: set[int] = set()  # the others the tracker knew then
        self._signs = SignContinuity()  # one avatar: its bones' quaternions in one hemisphere
        try:
            found = socket.getaddrinfo(address[0], address[1], type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: a name no DNS label can hold
            host = address[0][:80]
            raise PublishError(f"cannot resolve the VMC host {host!r} ({exc}): pass --vmc HOST:PORT") from exc
        # a name with both kinds of address goes to the IPv4 one: VMC receivers listen on IPv4
        # (QA: `localhost` resolved to ::1 first, and a receiver on 127.0.0.1 got nothing)
        family, *_, sockaddr = next((entry for entry in found if entry[0] == socket.AF_INET), found[0])
        # sent to the address resolved here: a host name was looked up again for every datagram,
        # two blocking lookups a frame on the sink's thread (QA)
        self._sockaddr = sockaddr
        self._max_bundle_bytes = MAX_BUNDLE_BYTES if family == socket.AF_INET else MAX_BUNDLE_BYTES_IPV6
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        if family == socket.AF_INET:  # a broadcast address (every VMC receiver on the LAN) is refused without it
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self._warned_errors: set[int | None] = set()  # each kind of send error is logged once, then counted

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--vmc", metavar="HOST:PORT", nargs="?", const=f"127.0.0.1:{DEFAULT_PORT}", action="append",
                            help=f"drive an avatar over the VMC protocol (OSC/UDP) to HOST:PORT "
                                 f"(default 127.0.0.1:{DEFAULT_PORT}, e.g. VSeeFace, Warudo, EVMC4U)")  # fmt: skip

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> VmcSink | None:
        given = getattr(args, "vmc", None)
        if not given:
            return None
        if len(given) > 1:  # argparse kept the last one without a word (QA)
            raise OptionsError(f"--vmc given {len(given)} times ({', '.join(given)}): posecast drives one VMC "
                               "receiver a run; keep one --vmc")  # fmt: skip
        return cls(parse_address(given[0]), avatar_options(args))

    def open(self, meta: StreamMeta) -> None:
        resolved = self._sockaddr[0]
        sent_to = "" if resolved == self.address[0] else f" ({resolved})"  # a name, or a number written short
        log.info("driving an avatar over VMC to %s%s (UDP: nothing says whether anyone receives)",
                 self.destination, sent_to)  # fmt: skip

    @property
    def destination(self) -> str:
        """``HOST:PORT`` as ``--vmc`` takes it (an IPv6 address in brackets)."""
        host, port = self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def write(self, frame: PoseFrame) -> None:
        # the pipeline's avatar world when it has one (shared with the other outputs), else our own
        avatar = frame.world if frame.world is not None else self.world.process(frame)
        if self._first_ns is None:
            self._first_ns = frame.timestamp_ns
        time_s = self._time_s = (frame.timestamp_ns - self._first_ns) * 1e-9
        # the avatar follows one person while their id is held (lost for up to a second): it jumped
        # to whoever else was tracked when its person was missed for a few frames
        if self._person_id is not None and all(p.person_id != self._person_id for p in frame.people):
            self._person_id = None  # forgotten by the tracker: someone where they stood, or new, or later anyone
            self._forgotten_s, self._in_view = time_s, {p.person_id for p in frame.people}
        if self._person_id is None and avatar.people:
            self._person_id = self._successor(avatar, time_s)
        followed = next((p for p in avatar.people if p.person_id == self._person_id), None)
        if followed is not None:
            self._stood_m = followed.joints_world_m[skeleton.ROOT]
        messages = frame_messages(avatar, time_s, self._root_m, _NOBODY if self._person_id is None else self._person_id,
                                  self._signs)  # fmt: skip
        root = next((m for m in messages if m.address == ROOT_ADDRESS), None)
        if root is not None:
            self._root_m = np.array(root.params[1:4], dtype=np.float64)
        for datagram in pack_bundles(messages, self._max_bundle_bytes):
            self._send(datagram)

    def _successor(self, avatar: AvatarFrame, time_s: float) -> int | None:
        """Whom the avatar follows once its person is forgotten (module docstring); ``None``: it holds."""
        if self._stood_m is None:  # nobody followed yet: the first tracked
            return avatar.people[0].person_id
        along_floor = {p.person_id: float(np.hypot(*(p.joints_world_m[skeleton.ROOT] - self._stood_m)[[0, 2]]))
                       for p in avatar.people}  # fmt: skip
        nearest = min(along_floor, key=along_floor.__getitem__)
        if along_floor[nearest] <= NEAR_M:
            return nearest
        if new := [p.person_id for p in avatar.people if p.person_id not in self._in_view]:
            return new[0]
        if self._forgotten_s is not None and time_s - self._forgotten_s >= HOLD_AFTER_FORGOTTEN_S:
            return avatar.people[0].person_id
        return None

    def source_stalled(self, notice: PoseFrame) -> None:
        """While the live source is silent (about every 0.5 s): what goes out while nobody is
        tracked, the held root, OK 0 and T moved on by the stall (QA: nothing went out, and the
        receiver kept the last pose as tracked for as long as a stream stalled)."""
        if self._first_ns is None:
            return
        time_s = self._time_s = (notice.timestamp_ns - self._first_ns) * 1e-9 + notice.source_stalled_s
        for datagram in pack_bundles(closing_messages(self._root_m, False, time_s), self._max_bundle_bytes):
            self._send(datagram)

    def _send(self, datagram: bytes) -> None:
        try:
            self._socket.sendto(datagram, self._sockaddr)
        except (BlockingIOError, InterruptedError):  # the kernel's buffer is full: drop, never wait
            self.dropped_datagrams += 1
            return
        except OSError as exc:  # e.g. no route, or a refused port reported by the previous send
            if exc.errno not in self._warned_errors:
                self._warned_errors.add(exc.errno)
                log.warning("VMC datagram to %s:%d not sent: %s (the same error again is only counted)",
                            *self.address, exc)  # fmt: skip
            self.dropped_datagrams += 1
            return
        self.sent_datagrams += 1

    def close(self) -> None:
        if self._socket.fileno() >= 0:
            if self._time_s is not None:  # the receiver kept showing the last pose as tracked (QA)
                untracked = closing_messages(self._root_m, False, self._time_s)
                for datagram in pack_bundles(untracked, self._max_bundle_bytes):
                    self._send(datagram)
            self._socket.close()
            if self.dropped_datagrams:
                log.warning("VMC: %d of %d datagrams to %s:%d were not sent", self.dropped_datagrams,
                            self.dropped_datagrams + self.sent_datagrams, *self.address)  # fmt: skip
