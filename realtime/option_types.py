"""An options dataclass's fields checked against their annotations, for code that builds them
(``posecast run`` builds them from typed arguments). A value of the wrong kind failed far away, as
an ``AttributeError`` or a ``TypeError`` from a comparison, at the first frame, or was taken: QA's
``AvatarOptions(mirror="no")`` mirrored the person and ``LifterOptions(int8="no")`` ran INT8.

Only the kind is checked (ranges are each class's own ``__post_init__``): a ``bool`` field takes
``True``/``False`` alone, an ``int`` field a whole number, a ``float`` field any real number, a
path a ``str`` or ``os.PathLike``, a class its instances; a tuple or list any sequence (a numpy array
too), other containers their own type, not their items; an annotation that cannot be resolved (a
subclass's names imported for type checkers only) leaves its class unchecked; ``Any`` and what
the check cannot read (a ``Callable``) take anything.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import OptionsError


def check_field_types(options: object) -> None:
    """Raise :class:`OptionsError` naming the first field of ``options`` (a dataclass instance)
    whose value is not of its annotated kind."""
    try:
        hints = typing.get_type_hints(type(options))
    except NameError:  # a subclass's annotation that names what exists only for type checkers: unchecked
        return
    for field in dataclasses.fields(options):  # type: ignore[arg-type]
        expected = hints.get(field.name, typing.Any)
        value = getattr(options, field.name)
        if not _fits(value, expected):
            raise OptionsError(f"{type(options).__name__}.{field.name} must be {_describe(expected)}, "
                               f"got {value!r}")  # fmt: skip


def _fits(value: object, expected: object) -> bool:
    if expected is typing.Any:
        return True
    origin = typing.get_origin(expected)
    if origin is typing.Union or isinstance(expected, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool | np.bool_)
    if expected is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if expected is Path:
        return isinstance(value, str | os.PathLike)
    if origin in (tuple, list):  # any sequence of them, a numpy array too (fx, fy, cx, cy; review)
        return isinstance(value, np.ndarray) or (isinstance(value, Sequence) and not isinstance(value, str | bytes))
    if origin is not None:  # dict[str, int]: the container's own type
        return not isinstance(origin, type) or isinstance(value, origin)
    if isinstance(expected, type):
        return expected is object or isinstance(value, expected)
    return True  # Any, a Callable, what is not a class


def _describe(expected: object) -> str:
    if typing.get_origin(expected) is typing.Union or isinstance(expected, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(expected))
    if expected is type(None):
        return "None"
    if expected is bool:
        return "True or False"
    if expected is int:
        return "a whole number"
    if expected is float:
        return "a number"
    if expected is Path:
        return "a path"
    origin = typing.get_origin(expected)
    if origin is not None:
        expected = origin
    return str(getattr(expected, "__name__", expected))
