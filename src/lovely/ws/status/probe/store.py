"""What every probe store is: :class:`ProbeStore`, and the rules of a probe text."""
from __future__ import annotations

import re
from typing import Any, List, Optional, Protocol

__all__: List[str] = ["ProbeStore", "StoreUnavailable", "check_text", "MAX_TEXT_LENGTH"]

#: The probe text of an instance in service.
OK = "OK"
#: The longest probe text accepted, in characters.
MAX_TEXT_LENGTH = 1024
#: The most bytes a store reads: the longest text in UTF-8 (four bytes a
#: character) and a line end. A store reads one byte more to tell that a
#: value is longer.
MAX_STORED_BYTES = 4 * MAX_TEXT_LENGTH + 2

# Unicode category Cc: C0 controls, DEL and C1 controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class StoreUnavailable(Exception):  # noqa: N818 - the name is public API
    """The store of the probe text cannot be reached (for example Redis is down)."""


class ProbeStore(Protocol):
    """Where the probe text lives.

    ``get()`` returns the text (``OK`` when nothing was stored) and raises
    :class:`StoreUnavailable` when the backend cannot be reached; ``set()``
    stores a text that :func:`check_text` accepts (:class:`ValueError`
    otherwise) and raises :class:`StoreUnavailable` likewise. ``url``
    names the store in messages, without a password.
    """

    url: str

    def get(self) -> str: ...

    def set(self, text: str) -> None: ...


def check_text(text: Any) -> Optional[str]:
    """Why ``text`` cannot be a probe text, or ``None`` when it can.

    A probe text is a string of at most :data:`MAX_TEXT_LENGTH` characters
    without control characters (Unicode category Cc, which includes tab and
    newline), so it fits one line of a log and one read of a file.
    """
    if not isinstance(text, str):
        return f"the probe text must be a string, not {type(text).__name__}"
    if len(text) > MAX_TEXT_LENGTH:
        return (
            f"the probe text is {len(text)} characters long; "
            f"at most {MAX_TEXT_LENGTH} are allowed"
        )
    found = _CONTROL.search(text)
    if found is not None:
        return (
            f"the probe text contains the control character U+{ord(found.group()):04X} "
            f"at position {found.start()}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"the probe text cannot be encoded as UTF-8 ({exc.reason})"
    return None


def checked_text(text: Any) -> str:
    """``text`` if :func:`check_text` accepts it, else :class:`ValueError`."""
    problem = check_text(text)
    if problem is not None:
        raise ValueError(problem)
    return str(text)


def stored_text(data: bytes, where: str) -> str:
    """The probe text in ``data``, read from a store (at most
    :data:`MAX_STORED_BYTES` and one byte more).

    Stores are written by other processes and by hand, so what they hold
    is checked as a ``POST`` is: UTF-8 (bad bytes replaced), a trailing
    line end dropped (``echo OFF > file``), then :func:`check_text`. A value
    that fails is :class:`StoreUnavailable` (``where`` names the store),
    never served: the probe answers 503, and no terminal or log gets the
    control characters.
    """
    if len(data) > MAX_STORED_BYTES:
        raise StoreUnavailable(
            f"{where} holds more than {MAX_STORED_BYTES} bytes, "
            "longer than any probe text"
        )
    text = data.decode("utf-8", "replace").rstrip("\r\n")
    if len(text) <= MAX_TEXT_LENGTH and text.isprintable():
        return text  # the common case, cheaper: no Cc (nor anything else odd)
    problem = check_text(text)
    if problem is not None:
        raise StoreUnavailable(f"{where} holds no valid probe text: {problem}")
    return text
