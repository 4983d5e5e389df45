"""How the command line presents itself: ``--help`` with every default, and ``--version``.

:class:`PosecastParser` is the parser class of ``posecast`` and of every sub-command (argparse
builds sub-parsers with the parent's class), so each option's help ends with its default
without every command repeating it by hand.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from typing import NoReturn

from ..engines.cli_args import names_a_file
from ..engines.install import version_text

__all__ = ["DefaultsHelpFormatter", "PosecastParser", "VersionAction"]


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help when it has a default worth showing (not
    ``None``, ``False`` or suppressed) and its help does not already mention one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and default not in (None, False, argparse.SUPPRESS)
            and "default" not in text
            and not isinstance(action, (argparse._VersionAction, argparse._HelpAction))
        ):
            text += " (default: %(default)s)"
        return text


class PosecastParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that shows defaults in ``--help`` (also in its sub-parsers)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # a value such as -1,10 (--floor-camera) or -1e-3 is a negative number, not an unknown option
        # (argparse's own pattern knows only -1 and -.5, and said "expected one argument")
        self._negative_number_matcher = re.compile(r"^-\.?\d[\d.,eE+-]*$")

    def error(self, message: str) -> NoReturn:
        """One line on stderr and exit code 2, as every other bad input (argparse prints the usage
        block first, which can run to twenty lines and bury the problem); ``--help`` has the usage."""
        hint = self._swallowed_file_hint(message) or self._dash_name_hint(message)
        self.exit(2, f"{self.prog}: error: {message}{hint} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's signature
        # kept for error(): sub-parsers are handed the words after their command's name
        self._words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def _swallowed_file_hint(self, message: str) -> str:
        """When a required argument is missing because an option whose value is optional (``--vmc
        [HOST:PORT]``) took the file meant for it: say so (QA: ``posecast replay --vmc take.posecast``
        said only that the recording was missing)."""
        if not message.startswith("the following arguments are required"):
            return ""
        optional_value = {s for a in self._actions if a.nargs == argparse.OPTIONAL for s in a.option_strings}
        words = getattr(self, "_words", [])
        for option, value in itertools.pairwise(words):
            if option in optional_value and not value.startswith("-") and names_a_file(value):
                return (f"; {option} took {value!r} for its value: put {value!r} before {option}, or give {option} "
                        f"its own value first")  # fmt: skip
        return ""

    def _dash_name_hint(self, message: str) -> str:
        """When an option's value is a file name starting with ``-``, which argparse takes for an
        option: say how to give it (QA: ``--source -clip.mp4`` said only "expected one argument")."""
        match = re.fullmatch(r"argument (\S+): expected one argument", message)
        if match is None:
            return ""
        options = match.group(1).split("/")
        for given, value in itertools.pairwise(getattr(self, "_words", [])):
            if given in options and value.startswith("-") and not value.startswith("--") and names_a_file(value):
                return f"; {value!r} reads as an option: write {given}={value} or {given} ./{value}"
        return ""

    def parse_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's signature
        """As argparse's, but an unknown option is reported by the command it was given to
        (``posecast run: error: unrecognized arguments: --bogus (see `posecast run --help`)``)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._command_parser(parsed).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _command_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The innermost sub-command's parser that ``parsed`` went through."""
        parser: argparse.ArgumentParser = self
        while (commands := subcommands(parser)) is not None:
            chosen = getattr(parsed, commands.dest, None)
            if chosen not in commands.choices:
                break
            parser = commands.choices[chosen]
        return parser


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    """``parser``'s sub-commands (``choices``: name → parser, aliases included; ``dest``: where the
    chosen name goes), or ``None`` for a command without any. argparse has no public accessor."""
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


class VersionAction(argparse.Action):
    """``--version``: posecast's version with its commit and date from a checkout
    (:func:`~posecast.engines.install.version_text`), worked out when asked (it asks git), not at
    every start."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        kwargs.setdefault("help", "show posecast's version (and its commit and date, from a git checkout) and exit")
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> NoReturn:  # fmt: skip
        print(f"{parser.prog} {version_text()}")
        parser.exit()
