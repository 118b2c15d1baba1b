"""Typed, validated settings under the ``svcstatus.``, ``probestatus.`` and
``dockerflow.`` prefixes.

Each module declares its settings as a list of :class:`Setting`; its
``includeme`` calls :func:`add_settings_action`, which checks every key under
the prefix when the configuration is committed and hands the typed values
to the module (which keeps them on the app's
:class:`~lovely.ws.status.appstatus.AppStatus`; ``registry.settings`` stays
as the app gave it). A typo or a bad value raises
:class:`pyramid.exceptions.ConfigurationError` naming the key.

The values this package takes (seconds above all) are converted here, by
one function each, whether they come from settings or from Python.
"""
from __future__ import annotations

import difflib
import ipaddress
import math
import threading
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from pyramid.exceptions import ConfigurationError

__all__ = [
    "Setting",
    "SettingsError",
    "parse_settings",
    "add_settings_action",
    "as_bool",
    "as_seconds",
    "as_seconds_or_zero",
    "seconds",
    "as_positive_int",
    "as_lines",
    "as_assignments",
    "as_networks",
    "as_http_status",
    "as_text",
]


class SettingsError(ConfigurationError):
    """A setting of this package is unknown or has a bad value."""


class Setting(NamedTuple):
    """One setting: its full key, a converter, the default and a description."""

    key: str
    convert: Callable[[Any], Any]
    default: Any
    doc: str
    example: str = ""


Setting.key.__doc__ = "The full key, such as ``svcstatus.timeout``."
Setting.convert.__doc__ = "Turns the value from the settings into its type; raises ValueError."
Setting.default.__doc__ = "The typed value when the key is not set."
Setting.doc.__doc__ = "What the setting does (reST)."
Setting.example.__doc__ = "A value to show in the docs."


def as_bool(value: Any) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case), or a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1", "t", "y"):
        return True
    if text in ("false", "no", "off", "0", "f", "n", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


#: The longest wait a thread can do (about 292 years on 64-bit Linux); a
#: longer one raises OverflowError when the wait starts, long after start-up.
MAX_SECONDS = threading.TIMEOUT_MAX


def seconds(value: Any, what: str = "seconds", allow_zero: bool = False,
            text: bool = False) -> float:
    """``value`` as a number of seconds, checked; the one rule for every timeout.

    Positive (or zero with ``allow_zero``), finite and at most
    :data:`MAX_SECONDS`. :class:`TypeError` for what is not a number (a
    string is one only with ``text``, as settings are), :class:`ValueError`
    for a number out of range; the message names ``what``.
    """
    if isinstance(value, bool) or not (
        isinstance(value, (int, float)) or (text and isinstance(value, str))
    ):
        raise TypeError(f"{what} must be a number of seconds, not {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{what} must be a number of seconds, not {value!r}") from None
    if not (number > 0 or (allow_zero and number == 0)) or number > MAX_SECONDS:
        # (NaN fails every comparison; infinity is above MAX_SECONDS)
        kind = "zero or a positive" if allow_zero else "a positive"
        raise ValueError(
            f"{what} must be {kind} number of seconds up to {MAX_SECONDS:.0f}, "
            f"not {value!r}"
        )
    return number


def as_seconds(value: Any) -> float:
    """A positive number of seconds (at most :data:`MAX_SECONDS`)."""
    return seconds(value, "the value", text=True)


def as_seconds_or_zero(value: Any) -> float:
    """A number of seconds, zero allowed (at most :data:`MAX_SECONDS`)."""
    return seconds(value, "the value", allow_zero=True, text=True)


def as_positive_int(value: Any) -> int:
    """A whole number of at least 1."""
    number = _as_number(value)
    if number != int(number) or number < 1:
        raise ValueError(f"expected a whole number of at least 1, got {value!r}")
    return int(number)


def as_http_status(value: Any) -> int:
    """An HTTP status code (100 to 599)."""
    number = _as_number(value)
    if number != int(number) or not 100 <= number <= 599:
        raise ValueError(f"expected an HTTP status code (100-599), got {value!r}")
    return int(number)


def as_text(value: Any) -> Optional[str]:
    """Stripped text; empty means ``None``."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def as_lines(value: Any) -> List[str]:
    """Non-empty lines (or whitespace-separated words on one line)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return str(value).split()


def as_assignments(value: Any) -> List[Tuple[str, str]]:
    """Lines of ``name = value`` as ``[(name, value), ...]``, in order."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), str(v)) for k, v in value.items()]
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, tuple) and len(v) == 2 for v in value
    ):
        return [(str(k), str(v)) for k, v in value]
    pairs: List[Tuple[str, str]] = []
    seen = set()
    for line in str(value).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, target = line.partition("=")
        name, target = name.strip(), target.strip()
        if not sep or not name or not target:
            raise ValueError(f"expected lines of 'name = dotted.name', got {line!r}")
        if name in seen:
            raise ValueError(f"the name {name!r} is given twice")
        seen.add(name)
        pairs.append((name, target))
    return pairs


def as_networks(value: Any) -> Tuple[Any, ...]:
    """IPv4 and IPv6 networks in CIDR notation (a bare address is one host)."""
    networks = []
    for item in as_lines(value):
        for word in item.split(","):
            word = word.strip()
            if not word:
                continue
            try:
                networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                raise ValueError(f"{word!r} is not an IP network in CIDR notation") from None
    return tuple(networks)


def _unknown_key(key: str, specs: Sequence[Setting], dynamic: Sequence[str]) -> SettingsError:
    valid = sorted(s.key for s in specs)
    hint = difflib.get_close_matches(key, valid, n=1)
    message = f"unknown setting {key!r}"
    if hint:
        message += f" (did you mean {hint[0]!r}?)"
    message += "; valid settings are: " + ", ".join(valid + [d + "*" for d in dynamic])
    return SettingsError(message)


def parse_settings(
    settings: Mapping[str, Any],
    prefix: str,
    specs: Sequence[Setting],
    dynamic: Sequence[str] = (),
) -> Dict[str, Any]:
    """Check every key under ``prefix`` and return ``{key: typed value}``.

    Keys starting with one of the ``dynamic`` prefixes are passed through
    untouched (their owner checks them). Missing keys get their default.
    """
    by_key = {s.key: s for s in specs}
    typed: Dict[str, Any] = {}
    for key in sorted(k for k in settings if isinstance(k, str) and k.startswith(prefix)):
        spec = by_key.get(key)
        if spec is None:
            if any(key.startswith(d) for d in dynamic):
                typed[key] = settings[key]
                continue
            raise _unknown_key(key, specs, dynamic)
        try:
            typed[key] = spec.convert(settings[key])
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"bad value for setting {key!r}: {exc}") from None
    for spec in specs:
        typed.setdefault(spec.key, spec.default)
    return typed


def add_settings_action(
    config: Any,
    prefix: str,
    specs: Sequence[Setting],
    dynamic: Sequence[str] = (),
    then: Optional[Callable[[Dict[str, Any]], None]] = None,
    order: int = 0,
) -> None:
    """Validate the settings under ``prefix`` when ``config`` is committed,
    and call ``then`` with the typed values in the same action."""
    registry = config.registry

    def apply() -> None:
        typed = parse_settings(registry.settings or {}, prefix, specs, dynamic)
        if then is not None:
            then(typed)

    config.action(("lovely.ws.status.settings", prefix), apply, order=order)


def settings_table(specs: Iterable[Setting]) -> List[Tuple[str, str, str]]:
    """``(key, default, doc)`` rows, for documentation and ``--help`` texts."""
    return [(s.key, repr(s.default), s.doc) for s in specs]
