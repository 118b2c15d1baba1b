"""Text that is safe to show: never raising, one line, without secrets.

Handlers and the objects they return are application code, so turning
them into text may fail; a status page must not. Details reach logs,
terminals and dashboards, so control characters are escaped and passwords
are hidden here, once, for every output.
"""
from __future__ import annotations

import contextvars
import datetime
import decimal
import math
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any, Iterable, List, Optional, Tuple

__all__: List[str] = []

# -- values whose text is their own code ---------------------------------------
#
# A detail's __str__, a label's __float__, a mapping's items() are the
# application's code, and may block. A view renders in "plain only" mode
# first (see render.isolation): where the text of a value would run its own
# code, the functions below raise NotPlain instead, and the view renders
# again on a status thread under a deadline; if that does not finish, in
# "placeholder" mode, where such a value becomes a placeholder.

#: The types whose text, number or JSON form is the interpreter's own code.
PLAIN_TYPES = frozenset({
    str, int, float, bool, type(None), complex, bytes, decimal.Decimal, uuid.UUID,
    datetime.datetime, datetime.date, datetime.time, datetime.timedelta,
})

#: How values of other types are treated now: ``None`` (their code is
#: called), :data:`RAISE` or :data:`PLACEHOLDER`.
RAISE, PLACEHOLDER = "raise", "placeholder"
_MODE: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
    "lovely.ws.status.text_mode", default=None)


class NotPlain(BaseException):
    """Making text of a value would run the value's own code (in
    :data:`RAISE` mode). A :class:`BaseException`, so that no ``except
    Exception`` on the way swallows it."""


def set_mode(mode: Optional[str]) -> contextvars.Token[Optional[str]]:
    """Treat values of other types than :data:`PLAIN_TYPES` as ``mode`` says,
    until :func:`reset_mode` with the token returned."""
    return _MODE.set(mode)


def reset_mode(token: contextvars.Token[Optional[str]]) -> None:
    _MODE.reset(token)


def own_code(value: Any) -> Optional[str]:
    """``None`` if the caller may run ``value``'s code (to make text or a
    number of it); else the placeholder to use instead. Raises
    :class:`NotPlain` in :data:`RAISE` mode."""
    mode = _MODE.get()
    if mode is None or type(value) in PLAIN_TYPES:
        return None
    if mode == RAISE:
        raise NotPlain(value)
    return f"<{type(value).__name__}: not rendered, its code did not return in time>"

#: Longest detail a built-in check returns; driver messages can be pages long.
MAX_DETAIL = 500

HIDDEN = "***"


def to_text(value: Any) -> str:
    """``str(value)``, but never raising (a broken ``__str__`` gets a placeholder)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        # The text itself: str() of a ``(str, Enum)`` member is its name.
        return str.__str__(value)
    placeholder = own_code(value)
    if placeholder is not None:
        return placeholder
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def safe_repr(value: Any) -> str:
    """``repr(value)``, but never raising."""
    try:
        return repr(value)
    except BaseException:  # noqa: B036 - a broken __repr__ must not break a report
        return f"<unrepresentable {type(value).__name__}>"


def short_repr(value: Any, limit: int = 80) -> str:
    """:func:`safe_repr` cut to ``limit`` characters."""
    text = safe_repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException) -> str:
    """``"ExceptionClass: message"``, or the class alone without a message."""
    try:
        message = str(exc)
    except BaseException:  # noqa: B036 - even a __str__ that raises SystemExit
        message = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


# ------------------------------------------------------------ control characters

# Characters that would end a line (str.splitlines() splits on all of
# these), the tab, and the other control characters.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    escape = _ESCAPES.get(char)
    if escape is None:
        code = ord(char)
        escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return escape


def escape_controls(text: str) -> str:
    """``text`` with tabs, line breaks and other control characters written
    as backslash escapes (``\\t``, ``\\n``, ``\\x1b``...), so it stays on one
    line and cannot drive a terminal."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(_escape_char, text)


# ------------------------------------------------------------------ redaction

_URL_PASSWORD = re.compile(r"://[^/@:\s]*:([^@\s]*)@")
#: Query parameters that carry a password (libpq takes ``?password=``, the
#: MySQL drivers ``password`` or ``passwd``, ODBC ``pwd``).
PASSWORD_PARAMETERS = ("password", "passwd", "pwd")
_QUERY_PASSWORD = re.compile(
    r"([?&](?:%s)=)[^&#\s]*" % "|".join(PASSWORD_PARAMETERS), re.IGNORECASE
)


def secret_forms(secret: Optional[str]) -> List[str]:
    """``secret`` as it may appear in a message: raw and URL-quoted, longest first."""
    if not secret:
        return []
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
    }
    # Longest first, so a quoted form is not half replaced by a shorter one.
    return sorted(forms, key=len, reverse=True)


def _passwords_in(text: str) -> List[str]:
    found: List[str] = []
    for match in _URL_PASSWORD.finditer(text):
        password = match.group(1)
        if password:
            found.extend(secret_forms(password))
            found.extend(secret_forms(urllib.parse.unquote(password)))
    return found


def redact_url(url: str) -> str:
    """``url`` with its password (``user:***@``, ``?password=***``) hidden.

    Works on the text, so that URLs which do not parse (the ones error
    messages are about) and IPv6 hosts keep their shape.
    """
    text = str(url)
    start = text.find("://")
    if start >= 0:
        start += 3
        end = len(text)
        for mark in "?#":
            found = text.find(mark, start)
            if found != -1:
                end = min(end, found)
        # The last "@" before the query: a password may hold a raw "/" or "@".
        at = text.rfind("@", start, end)
        if at != -1:
            user, colon, _ = text[start:at].partition(":")
            if colon:
                text = f"{text[:start]}{user}:{HIDDEN}{text[at:]}"
    return _QUERY_PASSWORD.sub(r"\1" + HIDDEN, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, without ``secrets`` nor URL passwords, at most
    :data:`MAX_DETAIL` characters."""
    for secret in sorted(set(secrets) | set(_passwords_in(text)), key=len, reverse=True):
        if secret:
            text = text.replace(secret, HIDDEN)
    text = _QUERY_PASSWORD.sub(r"\1" + HIDDEN, " ".join(text.split()))
    if len(text) > MAX_DETAIL:
        text = text[: MAX_DETAIL - 1] + "\u2026"
    return text


def json_default(value: Any) -> Any:
    """``json``'s ``default``: text for what JSON has no type for (dates
    and times ISO 8601, sets lists, exceptions ``"Class: message"``)."""
    if type(value) not in PLAIN_TYPES and type(value) not in (set, frozenset, dict):
        placeholder = own_code(value)
        if placeholder is not None:
            return placeholder
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return [_plain_copy(v, ()) for v in value]
    if isinstance(value, BaseException):
        message = to_text(value)
        return f"{type(value).__name__}: {message}" if message else type(value).__name__
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {to_text(k): v for k, v in value.items()}
    return to_text(value)


def _plain_copy(value: Any, parents: Tuple[int, ...]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        try:
            # Python refuses to print ints of more than 4300 digits (and so
            # does json); int subclasses may have their own broken __repr__.
            int.__repr__(value)
        except ValueError:
            return to_text(value)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else to_text(value)
    if id(value) in parents:
        return "<recursion>"
    inner = parents + (id(value),)
    if len(inner) > 100:
        return "<too deep>"
    if type(value) not in (dict, list, tuple):  # their items are their own code
        placeholder = own_code(value)
        if placeholder is not None:
            return placeholder
    try:
        if isinstance(value, Mapping):
            return {
                (k if isinstance(k, str) else to_text(k)): _plain_copy(v, inner)
                for k, v in list(value.items())
            }
        if isinstance(value, (list, tuple)):
            return [_plain_copy(v, inner) for v in list(value)]
        converted = json_default(value)
    except Exception:  # a container that cannot even be walked
        return to_text(value)
    if converted is value or isinstance(converted, str):
        return converted
    return _plain_copy(converted, inner)


def json_plain(value: Any) -> Any:
    """A copy of ``value`` that ``json`` encodes strictly, whatever it holds:
    keys become text, what JSON has no type for becomes text (see
    :func:`json_default`), and so do NaN, infinity, ints too long to print,
    cycles and very deep nesting."""
    return _plain_copy(value, ())
