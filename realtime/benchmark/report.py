"""A benchmark report written out: ``bench.json`` (the report as it stands), ``bench.md`` (the
tables a README can take) and the one-screen summary the command prints."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ...engines.errors import storable
from ...engines.fileio import atomic_write, json_ready
from ...engines.logs import counted
from .analysis import END_TO_END, STAGE_TITLES, TARGETS
from .machine import process_text

_COLUMNS = ("p50_ms", "p90_ms", "p99_ms", "max_ms")


def _f(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _ratio_caveat(report: dict) -> str:
    """`` (not judged: WHY)`` beside the headline ratio when its target was not judged (a noisy
    run, MediaPipe alone doing other work, or its spread): a ratio of 0.689 with room for two
    people was printed in bold with no word (QA round 8)."""
    ratio_text = next(text for path, _, text in TARGETS if path == "ratio_p50")
    ratio_target = next((t for t in report.get("targets", []) if t.get("target") == ratio_text), {})
    why = ratio_target.get("not_judged")
    return f" (not judged: {why})" if why else ""


def people_text(landmarker: dict) -> str:
    """``, up to N people (...)`` when the run had room for several (QA: the two runs' bench.md
    could not be told apart)."""
    most = landmarker.get("max_people", 1)
    if most == 1:
        return ""
    search_s = landmarker.get("people_search_s")
    search = "MediaPipe's own way, --people-search 0" if search_s == 0 else f"a search every {search_s:g} s"
    return f", up to {most} people ({search})"


def _row(title: str, entry: dict | None) -> str:
    cells = [_f(entry.get(c)) if entry else "–" for c in _COLUMNS]
    return f"| {title} | " + " | ".join(cells) + " |"


def latency_table(report: dict) -> list[str]:
    """Markdown rows: every stage, everything after MediaPipe, end to end, the baseline."""
    lines = ["| stage | p50 ms | p90 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for name, entry in report["stages"].items():
        title = STAGE_TITLES.get(name, name)
        lines.append(_row(f"**{title}**" if name == "after_keypoints2d" else title, entry))
    e2e = report["end_to_end"]
    lines.append(_row("**capture → delivered** (every output's write returned)", e2e["capture_to_delivered"]))
    lines.append(_row("capture → published (the message's stamp, before sending)", e2e["capture_to_publish"]))
    lines.append(_row("capture → received (subscriber process)", e2e["capture_to_receive"]))
    lines.append(_row("publish → received", e2e["publish_to_receive"]))
    if (report["baseline"].get("zeromq_alone") or {}).get("n"):
        title = "ZeroMQ alone (a bare message per MediaPipe-alone frame, same two processes)"
        lines.append(_row(title, report["baseline"]["zeromq_alone"]))
    lines.append(_row("**MediaPipe alone** (baseline, same frames)", report["baseline"]["mediapipe_alone"]))
    if report.get("cpu_time"):
        lines.append(_row("after MediaPipe, CPU time of the 3D thread (no waiting)",
                          report["cpu_time"]["after_keypoints2d"]))  # fmt: skip
    return lines


def markdown(report: dict) -> str:
    """``bench.md``: the run, the latency table, the ratio, throughput, configurations, targets."""
    m, c, landmarker = report["machine"], report["config"], report["landmarker"]
    named = ", ".join(process_text(p) for p in report["others_running"])
    used = report.get("others_cpu_percent")
    others = " ".join(part for part in (f"{used:.0f} % of a core in all" if used is not None else "",
                                         f"({named})" if named else "") if part)  # fmt: skip
    lines = [
        f"# posecast bench — {report['source']['name']}, {report['date']}",
        "",
        f"- machine: {m['cpu_model']}, {m['cpu_cores']} cores ({m['cpu_cores_usable']} usable), "
        f"{m['memory_gb']} GiB, {m['os']}; flags: {' '.join(m['cpu_flags'])}",
        f"- other processes: {others or 'unknown'}; load average at the start "
        f"{report.get('load_average_start')}, at the end {m['load_average']}",
        f"- posecast {report['posecast']['version']} (commit {report['posecast']['git_commit'] or 'unknown'}): "
        f"{c['label']} on {c['device']}; MediaPipe {landmarker['variant']}{people_text(landmarker)}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- {report['frames']} frames ({report['frames_with_pose']} with a pose) per configuration in "
        f"{counted(report['rounds'], 'round')}, each round MediaPipe alone then posecast on the same frames",
        "",
        *latency_table(report),
        "",
        *definitions(report),
        "",
        f"capture → delivered p50 / MediaPipe alone p50 = **{_f(report['ratio_p50'], 3)}** "
        f"(p99: {_f(report['ratio_p99'], 3)}){_ratio_caveat(report)}; "
        f"CPU {_f(report['cpu_percent_of_one_core'], 0)} % of one core; "
        f"peak resident memory {_f(report['rss_mb'], 0)} MB.",
        *_startup_line(report.get("startup")),
        "",
        "| throughput | fps | dropped at capture | dropped at 2D → 3D | max queue (capture, 2D → 3D) | "
        "capture → delivered p50 / p99 ms | CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    t = report["throughput"]
    lines.append(f"| unpaced (posecast) | {_f(t['unpaced']['posecast_fps'], 1)} | 0 | – | – | "
                 f"{_f(report['end_to_end']['capture_to_delivered']['p50_ms'])} / "
                 f"{_f(report['end_to_end']['capture_to_delivered']['p99_ms'])} | "
                 f"{_f(report['cpu_percent_of_one_core'], 0)} |")  # fmt: skip
    lines.append(f"| unpaced (MediaPipe alone) | {_f(t['unpaced']['mediapipe_alone_fps'], 1)} | 0 | – | – | "
                 f"{_f(report['baseline']['mediapipe_alone']['p50_ms'])} / "
                 f"{_f(report['baseline']['mediapipe_alone']['p99_ms'])} | "
                 f"{_f(report['baseline']['cpu_percent_of_one_core'], 0)} |")  # fmt: skip
    for key, p in t.items():
        if key.startswith("paced_"):
            lines.append(f"| paced {p['target_fps']:g} fps | {_f(p['achieved_fps'], 1)} | {p['dropped_capture']} | "
                         f"{p['dropped_handoff']} | {p['max_depth_capture']}, {p['max_depth_handoff']} | "
                         f"{_f(p['capture_to_delivered']['p50_ms'])} / {_f(p['capture_to_delivered']['p99_ms'])} | "
                         f"{_f(p['cpu_percent_of_one_core'], 0)} |")  # fmt: skip
    if len(report["configs"]) > 1 or report["unavailable"]:
        lines += [
            "",
            "| configuration | device | after MediaPipe p50 / p99 ms | lift p50 / p99 ms | "
            "capture → delivered p50 / p99 ms | ratio p50 | its MediaPipe / MediaPipe alone p50 | fps |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for cfg in report["configs"]:
            a, li, e = cfg["stages"]["after_keypoints2d"], cfg["stages"].get("lift", {}), \
                cfg["end_to_end"]["capture_to_delivered"]  # fmt: skip
            lines.append(f"| {cfg['label']} | {cfg['device']} | {_f(a['p50_ms'])} / {_f(a['p99_ms'])} | "
                         f"{_f(li.get('p50_ms'))} / {_f(li.get('p99_ms'))} | {_f(e['p50_ms'])} / {_f(e['p99_ms'])} | "
                         f"{_f(cfg['ratio_p50'], 3)} | {_f(cfg.get('mediapipe_inside_vs_alone_p50'), 3)} | "
                         f"{_f(cfg['fps_unpaced'], 1)} |")  # fmt: skip
        for label, reason in report["unavailable"].items():
            lines.append(f"| {label} | not measured: {reason.split(';')[0]} | – | – | – | – | – | – |")
    if report.get("soak"):
        lines += ["", soak_text(report["soak"])]
    lines += ["", "| target | measured | met |", "|---|---:|---|"]
    for t in report["targets"]:
        met = {True: "yes", False: "**no**", None: _not_met(t)}[t["met"]]
        lines.append(f"| {t['target']} | {_f(t['value'], 3)} | {met} |")
    if report.get("reliability", {}).get("noisy"):
        lines += ["", "**This run was noisy, so its targets are not judged:** " +
                  "; ".join(report["reliability"]["reasons"]) + "."]
    if report["problems"]:
        lines += ["", "Inconsistencies found in this report: " + "; ".join(report["problems"])]
    return "\n".join(lines) + "\n"


def soak_text(soak: dict) -> str:
    """The soak's figures in one line, and what each hook beside it saw."""
    text = (f"Soak: {soak['minutes']:g} min at {soak['pace_fps']:g} fps, {soak['frames_processed']} frames, "
            f"{soak['dropped_capture']} dropped at capture; capture → delivered p99 first minute "
            f"{_f(soak['first_minute_p99_ms'])} ms, last minute {_f(soak['last_minute_p99_ms'])} ms; "
            f"resident memory {_f(soak['rss_mb_after_warmup'], 1)} → {_f(soak['rss_mb_end'], 1)} MB "
            f"({_f(soak['rss_growth_mb'], 1)} MB after warm-up).")  # fmt: skip  (QA: 544 → 547 read "2.6 MB")
    for name, seen in (soak.get("hooks") or {}).items():
        text += f" {name}: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in seen.items()) + "."
    return text


def summary_text(report: dict) -> str:
    """The table printed at the end of ``posecast bench``."""
    width = max(44, *(len(t) for t in STAGE_TITLES.values()))  # whole titles (QA: one was cut mid-word)
    lines = [f"{'stage':{width}s} {'p50':>8s} {'p90':>8s} {'p99':>8s} {'max':>8s}  ms"]

    def row(title: str, entry: dict | None) -> None:
        cells = "".join(f" {_f(entry.get(c)) if entry else '–':>8s}" for c in _COLUMNS)
        lines.append(f"{title:{width}s}{cells}")

    for name, entry in report["stages"].items():
        row(STAGE_TITLES.get(name, name), entry)
    e2e = report["end_to_end"]
    row("capture → delivered (every output written)", e2e["capture_to_delivered"])
    row("capture → published (message stamp)", e2e["capture_to_publish"])
    row("capture → received (subscriber)", e2e["capture_to_receive"])
    row("publish → received", e2e["publish_to_receive"])
    if (report["baseline"].get("zeromq_alone") or {}).get("n"):
        row("ZeroMQ alone (same processes, same load)", report["baseline"]["zeromq_alone"])
    row("MediaPipe alone (same frames)", report["baseline"]["mediapipe_alone"])
    if report.get("cpu_time"):
        row("after MediaPipe, CPU time of the 3D thread", report["cpu_time"]["after_keypoints2d"])
    lines.append(f"ratio p50 (capture → delivered / MediaPipe alone): {_f(report['ratio_p50'], 3)}"
                 f"{_ratio_caveat(report)}")
    if len(report["configs"]) > 1:  # the table is the first's (QA: the others were in the files alone)
        lines.append(f"the rows above are {report['configs'][0]['label']}'s; each configuration:")
        lines += [f"  {c['label']}: ratio p50 {_f(c['ratio_p50'], 3)}, capture → delivered p50 "
                  f"{_f(c['end_to_end']['capture_to_delivered'].get('p50_ms'))} ms, after MediaPipe (CPU time) p50 "
                  f"{_f(c['cpu_time']['after_keypoints2d'].get('p50_ms'))} ms, unpaced {_f(c['fps_unpaced'], 1)} fps"
                  for c in report["configs"]]  # fmt: skip
    t = report["throughput"]
    parts = [f"unpaced {_f(t['unpaced']['posecast_fps'], 1)} fps (MediaPipe alone "
             f"{_f(t['unpaced']['mediapipe_alone_fps'], 1)})"]  # fmt: skip
    parts += [f"paced {p['target_fps']:g}: {_f(p['achieved_fps'], 1)} fps, {p['dropped_capture']} dropped"
              for k, p in t.items() if k.startswith("paced_")]  # fmt: skip
    lines.append("throughput: " + "; ".join(parts))
    lines.append(f"CPU {_f(report['cpu_percent_of_one_core'], 0)} % of one core; peak RSS {_f(report['rss_mb'], 0)} MB")
    if report.get("soak"):
        lines.append(soak_text(report["soak"]))
    for t in report["targets"]:
        met = {True: "met", False: "MISSED", None: _not_met(t)}[t["met"]]
        lines.append(f"target: {t['target']}: {_f(t['value'], 3)} ({met})")
    return "\n".join(lines)


def _not_met(target: dict) -> str:
    """What a target neither met nor missed says: why it was not judged, or not measured."""
    return f"not judged: {target['not_judged']}" if target.get("not_judged") else "not measured"


def definitions(report: dict) -> list[str]:
    """The end-to-end rows' definitions, as Markdown list items (the report's own, else today's)."""
    lines = ["End to end, on the host's monotonic clock (both processes read it):"]
    lines += [f"- {text}" for text in (report.get("definitions") or END_TO_END).values()]
    return lines


def write_reports(report: dict, folder: Path) -> list[Path]:
    """``bench.json`` (NaN written as null) and ``bench.md`` in ``folder`` (written atomically);
    returns their paths."""
    text = json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n"
    json_path = atomic_write(folder / "bench.json", text.encode())
    md_path = atomic_write(folder / "bench.md", storable(markdown(report)).encode())  # (a clip's name not UTF-8: QA)
    return [json_path, md_path]


def _startup_line(startup: dict | None) -> list[str]:
    """The warm-up's line: a stream's first frames, kept out of the latency figures above."""
    if not startup:
        return []
    cpu, world = startup["cpu_time_after_keypoints2d"], startup["world"] or {}
    return [
        "",
        f"Start-up (the {startup['frames']} warm-up frames, not in the figures above: the floor is "
        f"estimated over a stream's first 2 s): after MediaPipe CPU time p50 {_f(cpu['p50_ms'], 2)} / "
        f"p99 {_f(cpu['p99_ms'], 2)} / max {_f(cpu['max_ms'], 2)} ms; avatar world max "
        f"{_f(world.get('max_ms'), 2)} ms.",
    ]

