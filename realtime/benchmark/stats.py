"""Latency statistics: percentiles of millisecond series, per-minute windows, and the checks a
benchmark report must pass (percentiles ordered, published before received, stages within end
to end, ratio = the p50s').

Pure numpy; every function takes and returns plain numbers so the report is JSON as it stands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

#: The percentiles every latency entry carries (keys ``p50_ms`` ... ``max_ms``).
PERCENTILES = (50, 90, 99)


def summarise_ms(values_ms: Sequence[float] | np.ndarray) -> dict[str, float]:
    """``{p50_ms, p90_ms, p99_ms, max_ms, mean_ms, n}`` of a series in milliseconds (NaN
    values dropped; an empty series gives NaN percentiles and ``n = 0``)."""
    v = np.asarray(values_ms, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        nan = float("nan")
        return {**{f"p{p}_ms": nan for p in PERCENTILES}, "max_ms": nan, "mean_ms": nan, "n": 0}
    q = np.percentile(v, PERCENTILES)
    out = {f"p{p}_ms": round(float(x), 4) for p, x in zip(PERCENTILES, q, strict=True)}
    out.update(max_ms=round(float(v.max()), 4), mean_ms=round(float(v.mean()), 4), n=int(v.size))
    return out


def windows_ms(times_s: np.ndarray, values_ms: np.ndarray, window_s: float = 60.0) -> list[dict[str, float]]:
    """The series cut into consecutive windows of ``window_s`` seconds of ``times_s`` (from the
    first sample): one :func:`summarise_ms` per window with its ``start_s``; a last window
    shorter than half a window is merged into the one before."""
    times_s, values_ms = np.asarray(times_s, np.float64), np.asarray(values_ms, np.float64)
    if times_s.size == 0:
        return []
    index = np.floor((times_s - times_s[0]) / window_s).astype(int)
    last = int(index.max())
    if last > 0 and (times_s[-1] - times_s[0]) - last * window_s < window_s / 2:
        index[index == last] = last - 1
    return [{"start_s": round(k * window_s, 3), **summarise_ms(values_ms[index == k])}
            for k in range(int(index.max()) + 1) if (index == k).any()]  # fmt: skip


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` rounded to 4 places (NaN when either is not a positive number)."""
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator <= 0:
        return float("nan")
    return round(numerator / denominator, 4)


def check_latency_entry(name: str, entry: Mapping[str, float]) -> list[str]:
    """Problems with one ``{p50_ms, p90_ms, p99_ms, max_ms}`` entry (percentiles out of order,
    negative times); empty when it is consistent."""
    keys = [f"p{p}_ms" for p in PERCENTILES] + ["max_ms"]
    missing = [k for k in keys if k not in entry]
    if missing:
        return [f"{name}: missing {', '.join(missing)}"]
    values = [math.nan if entry[k] is None else entry[k] for k in keys]
    if entry.get("n", 1) == 0 or not all(math.isfinite(v) for v in values):
        return []  # nothing measured: nothing to order
    problems = []
    if any(b < a for a, b in zip(values, values[1:], strict=False)):
        problems.append(f"{name}: percentiles not ordered {dict(zip(keys, values, strict=True))}")
    if values[0] < 0:
        problems.append(f"{name}: negative latency {values[0]}")
    return problems


def _num(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def check_published_before_received(name: str, e2e: Mapping) -> list[str]:
    """Problems with the order of ``e2e``'s capture → published and capture → received: the two
    are read off the same messages (same frames, same ``n``), each published before it was
    received, so every percentile, the max and the mean of the first are at most the second's."""
    published, received = e2e.get("capture_to_publish"), e2e.get("capture_to_receive")
    if not isinstance(published, Mapping) or not isinstance(received, Mapping):
        return []
    if published.get("n") != received.get("n"):
        return [f"{name}: capture→published over {published.get('n')} frames, capture→received over "
                f"{received.get('n')}: expected the same frames"]  # fmt: skip
    keys = [f"p{p}_ms" for p in PERCENTILES] + ["max_ms", "mean_ms"]
    late = [k for k in keys if _num(published.get(k)) > _num(received.get(k))]
    return [f"{name}: capture→published {k} {published[k]} > capture→received {received[k]}" for k in late]


def check_report(report: Mapping) -> list[str]:
    """Problems that make a benchmark report inconsistent (empty when it is sound): every
    latency entry ordered; capture → published never after capture → received (top level, each
    configuration, each paced run, the soak); the stages on the capture → delivered path, summed
    over their means, within the end-to-end mean (each frame's stages lie inside its own capture
    → delivered interval, so this holds exactly); everything after the 2D within capture →
    delivered; ``ratio_p50`` = capture → delivered p50 / MediaPipe-alone p50."""
    problems: list[str] = []
    stages = report.get("stages", {})
    e2e = report.get("end_to_end", {})
    for name, entry in {**{f"stages.{k}": v for k, v in stages.items()},
                        **{f"end_to_end.{k}": v for k, v in e2e.items()}}.items():  # fmt: skip
        if isinstance(entry, Mapping):  # (counts such as frames_not_received sit beside them)
            problems += check_latency_entry(name, entry)
    problems += check_published_before_received("end_to_end", e2e)
    for config in report.get("configs") or ():
        problems += check_published_before_received(f"configs[{config.get('label')}]", config.get("end_to_end", {}))
    for key, entry in (report.get("throughput") or {}).items():
        problems += check_published_before_received(f"throughput.{key}", entry)
    problems += check_published_before_received("soak", report.get("soak") or {})
    c2d = e2e.get("capture_to_delivered", {})
    path = [stages[k]["mean_ms"] for k in report.get("path_stages", []) if k in stages]
    if path and c2d.get("n", 0) and sum(path) > c2d["mean_ms"] + 1e-3:
        problems.append(
            f"stages on the path sum to {sum(path):.4f} ms, more than capture→delivered {c2d['mean_ms']} ms"
        )
    after = stages.get("after_keypoints2d", {})
    if after.get("n", 0) and c2d.get("n", 0) and after["mean_ms"] > c2d["mean_ms"] + 1e-3:
        problems.append("after_keypoints2d is longer than capture→delivered")
    base = report.get("baseline", {}).get("mediapipe_alone", {})
    if "p50_ms" not in base:
        problems.append("baseline.mediapipe_alone.p50_ms missing")
    elif c2d.get("n", 0):
        expected = ratio(_num(c2d["p50_ms"]), _num(base["p50_ms"]))
        got = _num(report.get("ratio_p50"))
        if not (math.isclose(got, expected, abs_tol=2e-4) or (math.isnan(got) and math.isnan(expected))):
            problems.append(f"ratio_p50 {got} is not capture→delivered p50 / baseline p50 = {expected}")
    return problems
