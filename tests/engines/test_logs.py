"""Logging helpers (engines/logs.py)."""

from __future__ import annotations

import logging

import pytest
from posecast.engines.logs import counted, quieter


def test_counted_says_one_thing_and_many_things() -> None:
    assert [counted(n, "frame") for n in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]


def test_quieter_restores_the_level() -> None:
    logger = logging.getLogger("posecast.test_logs")
    logger.setLevel(logging.INFO)
    with quieter(logging.WARNING, "posecast.test_logs"):
        assert not logger.isEnabledFor(logging.INFO)
    assert logger.level == logging.INFO


def test_matplotlib_says_nothing_of_an_unwritable_home(tmp_path) -> None:  # noqa: ANN001
    """QA: where the home folder cannot be written (a container, a service), matplotlib's two
    warnings about its configuration folder ended every ``posecast bench``'s output."""
    import os
    import subprocess
    import sys

    pytest.importorskip("matplotlib")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    code = ("import logging; logging.basicConfig(level=logging.WARNING)\n"
            "from posecast.engines.plotting import pyplot\n"
            "plt = pyplot(); fig = plt.figure(); fig.savefig('plot.png')\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**env, "HOME": "/proc"})  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_the_loss_plot_without_matplotlib_is_said_once_and_not_drawn(tmp_path, monkeypatch, caplog) -> None:  # noqa: ANN001
    """Review: training's loss plot was skipped without a word where matplotlib is missing."""
    import logging

    from posecast.engines.training import history

    (tmp_path / "log.csv").write_text("step,loss\n1,0.5\n")
    monkeypatch.setattr(history, "pyplot", lambda: None)
    history._say_no_matplotlib.cache_clear()  # noqa: SLF001 - once a process
    with caplog.at_level(logging.WARNING, logger="posecast"):
        for _ in range(3):  # a checkpoint each
            history.plot_history(tmp_path / "log.csv", tmp_path / "losses.png")
    said = [r for r in caplog.records if "the loss plot is not drawn: matplotlib is not installed" in r.getMessage()]
    assert len(said) == 1 and not (tmp_path / "losses.png").exists()


def test_quieter_code_drops_that_code_s_records_alone_whatever_its_logger(tmp_path) -> None:  # noqa: ANN001
    """The quantiser logs on the root logger and, in other files of its folder, on named loggers:
    their records below the level are dropped, another logger's (the host program's) are not, and
    a sibling folder whose name starts the same is not the folder (review)."""
    import importlib.util
    import logging

    from posecast.engines.logs import quieter_code

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib2").mkdir()
    code = ("import logging\ndef say():\n    logging.getLogger('lib.part').warning('lib says')\n"
            "    logging.warning('root')\n")
    for folder in ("lib", "lib2"):
        (tmp_path / folder / "part.py").write_text(code)
    modules = []
    for folder in ("lib", "lib2"):
        spec = importlib.util.spec_from_file_location(f"quiet_{folder}", tmp_path / folder / "part.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        with quieter_code(logging.ERROR, tmp_path / "lib"):
            modules[0].say()
            modules[1].say()
            logging.getLogger("host").warning("host says")
    finally:
        logging.getLogger().removeHandler(keep)
    said = [(r.name, r.getMessage(), "lib2" in r.pathname) for r in records]
    assert said == [("lib.part", "lib says", True), ("root", "root", True), ("host", "host says", False)], said
