"""The values of the Prometheus text formats: label values and numbers."""
from __future__ import annotations

import math
import re
from typing import Any, List

from ..text import own_code, to_text

__all__: List[str] = ["escape_label_value", "format_number"]


def escape_label_value(value: Any) -> str:
    """A label value as the Prometheus text format wants it (no quotes)."""
    text = to_text(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep the scrape valid UTF-8
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if "\\" in text or '"' in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def format_number(value: Any) -> str:
    """A sample value as Prometheus expects it; ``NaN`` for non-numbers.

    A string that already is a number in Prometheus' syntax is written as
    it is (``'12'`` stays ``12``, as 1.0 wrote it).
    """
    if type(value) is str and _NUMBER.fullmatch(value):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        try:
            return int.__repr__(value)
        except ValueError:  # more digits than Python prints: beyond any float
            return "+Inf" if value > 0 else "-Inf"
    if type(value) is not float and own_code(value) is not None:
        return "NaN"  # its __float__ did not return in time
    try:
        number = float(value)
    except OverflowError:  # a number too large for a float (a huge Decimal)
        try:
            return "+Inf" if value > 0 else "-Inf"
        except Exception:
            return "NaN"
    except Exception:  # not a number at all, or a broken __float__
        return "NaN"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)
