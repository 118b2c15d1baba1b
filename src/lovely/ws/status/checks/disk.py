"""A check on free disk space: :class:`DiskSpaceCheck`, and its thresholds."""

from __future__ import annotations

import math
import os
import re
import shutil
from typing import Any, Dict, List, Mapping, Tuple, Union

from ..states import OK, RED, YELLOW
from .base import Check, check_options, option_text

__all__: List[str] = ["DiskSpaceCheck", "Threshold", "parse_size", "parse_threshold"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)$")

#: A threshold: ``('ratio', fraction)`` or ``('bytes', count)``.
Threshold = Tuple[str, float]


def parse_size(value: Union[str, int]) -> int:
    """Bytes from ``1048576``, ``'500MB'``, ``'2GiB'``, ``'1.5 TB'`` (1 kB = 1000 B,
    1 KiB = 1024 B)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size in bytes, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a size of at least 0 bytes, got {value!r}")
        return value
    match = _SIZE.match(str(value).strip())
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(f"expected a size like 1048576, 500MB or 2GiB, got {value!r}")
    return int(round(float(match.group(1)) * unit))


_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:%|percent)$", re.IGNORECASE)
_FRACTION = re.compile(r"^(?:[0-9]+\.[0-9]*|\.[0-9]+)$")

_FORMS = (
    "a fraction of the disk (0.1, '10 percent', or '10%', which an .ini file "
    "needs as '10%%') or a number of bytes (an int, '500 MB', '2 GiB')"
)


def _fraction(number: float, value: Any) -> Threshold:
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise ValueError(
            f"a fraction of the disk is from 0 to 1 (0 to 100 percent), got {value!r}; "
            "bytes are an int or a size with a unit, such as '500 MB'"
        )
    return ("ratio", number)


def parse_threshold(value: Union[str, int, float]) -> Threshold:
    """A free-space threshold: a fraction of the disk or a number of bytes.

    A float is always a fraction (``0.1``, ``1.0`` is all of the disk), and
    so is a percentage: ``'10 percent'``, or ``'10%'`` (``10%%`` in an
    ``.ini`` file, where ``%`` starts an interpolation). Bytes are an int
    or a size with a unit (``'500 MB'``, ``'2 GiB'``). ``0`` disables it.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected {_FORMS}, got {value!r}")
    if isinstance(value, float):
        return _fraction(value, value)
    if isinstance(value, int):
        return ("bytes", parse_size(value))
    text = value.strip()
    percent = _PERCENT.match(text)
    if percent:
        return _fraction(float(percent.group(1)) / 100, value)
    if _FRACTION.match(text):
        return _fraction(float(text), value)
    try:
        return ("bytes", parse_size(text))
    except ValueError:
        raise ValueError(f"expected {_FORMS}, got {value!r}") from None


def _format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"


def _format_threshold(threshold: Threshold) -> str:
    kind, amount = threshold
    if kind == "ratio":
        return f"{amount * 100:g}%"
    return _format_bytes(amount)


def _threshold(name: str, value: Any) -> Threshold:
    try:
        return parse_threshold(value)
    except ValueError as exc:
        raise ValueError(f"{name!r}: {exc}") from None


class DiskSpaceCheck(Check):
    """Free space on the file system holding ``path``.

    :param warn_below: :data:`YELLOW` when free space is below this.
    :param fail_below: :data:`RED` when free space is below this.

    A threshold is a fraction of the file system's size (a float such as
    ``0.1``, or ``'10 percent'``, or ``'10%'``) or a number of bytes (an int,
    or ``'500 MB'``, ``'2 GiB'``); ``0`` turns it off. Free space is what an
    unprivileged process may use.
    ``labels`` carry ``free_bytes`` and ``free_ratio`` for Prometheus.
    """

    OPTIONS = ("path", "warn_below", "fail_below")

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        warn_below: Union[str, int, float] = 0.1,
        fail_below: Union[str, int, float] = 0.05,
    ) -> None:
        self.path = os.fspath(path)
        self.warn_below = _threshold("warn_below", warn_below)
        self.fail_below = _threshold("fail_below", fail_below)
        # Thresholds of different kinds cannot be compared: both are kept.
        if self.warn_below[0] == self.fail_below[0] and self.fail_below[1] > self.warn_below[1]:
            raise ValueError(
                f"'fail_below' ({_format_threshold(self.fail_below)}) is above "
                f"'warn_below' ({_format_threshold(self.warn_below)})"
            )

    def check(self) -> Dict[str, Any]:
        usage = shutil.disk_usage(self.path)
        free, total = usage.free, usage.total
        ratio = free / total if total else 0.0

        def below(threshold: Threshold) -> bool:
            kind, amount = threshold
            return (ratio if kind == "ratio" else free) < amount

        detail = f"{_format_bytes(free)} free of {_format_bytes(total)} ({ratio:.1%})"
        if below(self.fail_below):
            state = RED
            detail += f", below {_format_threshold(self.fail_below)}"
        elif below(self.warn_below):
            state = YELLOW
            detail += f", below {_format_threshold(self.warn_below)}"
        else:
            state = OK
        return {
            "state": state,
            "detail": detail,
            "labels": {"free_bytes": free, "free_ratio": round(ratio, 6)},
        }

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.path!r} "
            f"warn_below={_format_threshold(self.warn_below)} "
            f"fail_below={_format_threshold(self.fail_below)}>"
        )

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> DiskSpaceCheck:
        """Options: ``path`` (default: the working directory at startup),
        ``warn_below`` (``10 percent``), ``fail_below`` (``5 percent``)."""
        check_options(cls, options, cls.OPTIONS)
        path = os.path.abspath(option_text(options, "path") or os.getcwd())
        if not os.path.exists(path):
            raise ValueError(f"option 'path': {path!r} does not exist")
        thresholds: Dict[str, Any] = {}
        for key in ("warn_below", "fail_below"):
            value = options.get(key)
            if isinstance(value, str):
                value = value.strip()
            if value is not None and value != "":
                thresholds[key] = value
        try:
            return cls(path, **thresholds)
        except ValueError as exc:
            raise ValueError(f"option {exc}") from None
