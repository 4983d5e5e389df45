"""A decoded posecast message as people read it: one JSON object (``posecast listen --json``)
or one line of text (``posecast listen``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engines import skeleton
from .schema import MetaMessage, PoseMessage


def _rounded(array: np.ndarray, decimals: int = 5) -> list:
    return np.round(np.asarray(array, np.float64), decimals).tolist()


def tidy(value: Any) -> Any:
    """``value`` as JSON holds it: every float shortened to 6 significant digits, inside lists
    and dicts too (float32 fields print as ``1.7``, not ``1.7000000476837158``). What JSON has
    no word for, in the fields this schema does not define (a publisher may send anything
    there), is written as it can be: a non-finite number as null, bytes as hex, a msgpack
    extension as [code, hex data], a timestamp as its text, a key as a string (QA: ``--json`` stopped with a
    traceback, or printed ``NaN``, which no JSON parser reads)."""
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int, float, bool)) or k is None else str(tidy(k)): tidy(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return [tidy(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def to_json(message: PoseMessage | MetaMessage) -> dict[str, Any]:
    """A JSON-ready dict with a ``topic`` key (``"pose"`` or ``"meta"``)."""
    if isinstance(message, MetaMessage):
        return {"topic": "meta", **tidy(dict(vars(message)))}
    out = dict(vars(message))
    out.update(tidy(out.pop("extra")))  # the fields this schema does not define, as sent
    for name in ("joints_m", "confidence", "root_m"):
        out[name] = _rounded(out[name])
    if (face_m := out.pop("face_m")) is not None:  # only where the message has one, as on the wire
        out["face_m"] = _rounded(face_m)
    # the other floats as every float here: 6 significant digits (these came whole: 17.299999237060547)
    out["latency_ms"], out["source_stalled_s"] = tidy(out["latency_ms"]), tidy(out["source_stalled_s"])
    if out["latency_ms"] is None:
        del out["latency_ms"]
    if not out["source_stalled_s"]:  # only while the source stalls, as on the wire
        del out["source_stalled_s"]
    return {"topic": "pose", **out}


def format_line(message: PoseMessage | MetaMessage) -> str:
    """One human-readable line."""
    if isinstance(message, MetaMessage):
        assumptions = ", ".join(f"{k}={tidy(v)}" for k, v in message.assumptions.items()) or "none"
        return (
            f"meta: schema {message.schema_version}, {len(message.joint_names)} joints in {message.units}, "
            f"frame {message.frame}; assumptions: {assumptions}"
        )
    latency_ms = (message.publish_ns - message.capture_ns) / 1e6
    if message.source_stalled_s:
        return (f"frame {message.frame_id:6d}  person {message.person_id:2d}  {message.tracking:8s}  "
                f"the source has delivered no frame for {message.source_stalled_s:.1f} s (retrying)")  # fmt: skip

    def xyz(v: np.ndarray) -> str:
        return "({:+.2f} {:+.2f} {:+.2f})".format(*np.asarray(v, np.float64))

    j = skeleton.JOINT_INDEX
    joints = "  ".join(f"{name} {xyz(message.joints_m[j[name]])}" for name in ("head", "l_wrist", "r_wrist"))
    return (
        f"frame {message.frame_id:6d}  person {message.person_id:2d}  {message.tracking:8s}  "
        f"latency {latency_ms:6.1f} ms  root {xyz(message.root_m)} m  {joints}"
    )
