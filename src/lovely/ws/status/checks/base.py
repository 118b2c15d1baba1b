"""The base class of the checks, and the reading of their options."""

from __future__ import annotations

import difflib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..settings import as_bool, seconds
from ..states import RED
from ..text import describe_exception, redact

__all__: List[str] = [
    "Check",
    "check_options",
    "option_text",
    "option_seconds",
    "option_bool",
    "format_ms",
]


class Check:
    """Base class of the checks: an instance is a status handler.

    The contract every check keeps:

    * Subclasses implement :meth:`check`, which returns a status dict,
      ``{'state': OK | YELLOW | RED, 'detail': str, ...}`` (other keys, such
      as ``labels``, pass through).
    * Calling the instance never raises: an exception from :meth:`check`
      becomes :data:`~lovely.ws.status.RED` with the detail
      :meth:`describe_error` makes of it, ``"ExceptionClass: message"`` by
      default.
    * The strings in :attr:`secrets`, and the passwords of URLs, never
      appear in a detail: they are replaced by ``***``. A detail is one line
      of at most :data:`~lovely.ws.status.text.MAX_DETAIL` characters.
    * :meth:`from_settings` makes a check from the ``svcstatus.handler.NAME.*``
      options, and raises :class:`ValueError` naming the option on an
      unknown option or a bad value.
    * Timeouts, given to the constructor or as options, are checked by
      :func:`~lovely.ws.status.settings.seconds` when the check is made.
    * :meth:`close` releases what the check made itself (an engine, a
      client); what it was given stays open.
    """

    #: Strings (passwords) hidden in every detail of this check.
    secrets: Tuple[str, ...] = ()

    def __call__(self) -> Dict[str, Any]:
        try:
            status = self.check()
            detail = status.get("detail")
            if isinstance(detail, str):
                status["detail"] = redact(detail, self.secrets)
            return status
        except Exception as exc:
            return {"state": RED, "detail": redact(self._error_detail(exc), self.secrets)}

    def _error_detail(self, exc: Exception) -> str:
        try:
            return self.describe_error(exc)
        except Exception:  # a broken override must not break the promise
            return describe_exception(exc)

    def check(self) -> Dict[str, Any]:
        """Run the check and return the status dict (an exception means RED)."""
        raise NotImplementedError

    def describe_error(self, exc: Exception) -> str:
        """The detail for an exception raised by :meth:`check`."""
        return describe_exception(exc)

    def close(self) -> None:
        """Release what the check made itself; this default has nothing to release."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], options: Mapping[str, Any]) -> Check:
        """Make a check from the app's ``settings`` and the handler's ``options``.

        ``options`` are the values of ``svcstatus.handler.<name>.<option>``.
        Raises :class:`ValueError` naming the option on an unknown option or
        a bad value. This default takes no options and calls the class
        without arguments.
        """
        check_options(cls, options, ())
        return cls()


# ------------------------------------------------------------------ options


def check_options(cls: type, options: Mapping[str, Any], known: Sequence[str]) -> None:
    """Raise :class:`ValueError` for the first of ``options`` not in ``known``."""
    for key in sorted(options):
        if key not in known:
            message = f"unknown option {key!r} for {cls.__name__}"
            hint = difflib.get_close_matches(key, known, n=1)
            if hint:
                message += f" (did you mean {hint[0]!r}?)"
            valid = ", ".join(known) if known else "none"
            raise ValueError(f"{message}; valid options are: {valid}")


def option_text(options: Mapping[str, Any], key: str) -> Optional[str]:
    """The option stripped; ``None`` when it is missing or blank."""
    value = options.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def option_seconds(options: Mapping[str, Any], key: str, default: float) -> float:
    """The option as a number of seconds (see :func:`~lovely.ws.status.settings.seconds`)."""
    value = options.get(key)
    if _blank(value):
        return default
    try:
        return seconds(value, f"option {key!r}", text=True)
    except TypeError as exc:  # not text nor a number: a bad value all the same
        raise ValueError(str(exc)) from None


def option_bool(options: Mapping[str, Any], key: str, default: bool) -> bool:
    """The option as a boolean (see :func:`~lovely.ws.status.settings.as_bool`)."""
    value = options.get(key)
    if _blank(value):
        return default
    try:
        return as_bool(value)
    except ValueError as exc:
        raise ValueError(f"option {key!r}: {exc}") from None


def format_ms(elapsed: float) -> str:
    """``elapsed`` seconds as milliseconds, for details."""
    return f"{elapsed * 1000:.2f} ms"
