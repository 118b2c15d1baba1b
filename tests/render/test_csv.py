"""CSV: byte-for-byte tests of :func:`render_csv`."""
from __future__ import annotations

from lovely.ws.status.render.csv import render_csv
from lovely.ws.status.text import to_text


class BadStr:
    def __str__(self):
        raise RuntimeError("no")


def test_to_text():
    """Every field's text, as :func:`lovely.ws.status.text.to_text` makes it."""
    assert to_text("x") == "x"
    assert to_text(3) == "3"
    assert to_text(None) == "None"
    assert to_text(BadStr()) == "<unprintable BadStr>"
    assert to_text(10**5000) == "<unprintable int>"


def test_csv_empty():
    assert render_csv([]) == ""


def test_csv_one():
    assert render_csv([("a", {"state": "OK", "detail": "fine"})]) == "a\tOK\tfine"


def test_csv_keeps_the_given_order_and_has_no_final_newline():
    items = [("b", {"state": "RED"}), ("a", {"state": "YELLOW", "detail": "x"})]
    assert render_csv(items) == "b\tRED\t\na\tYELLOW\tx"


def test_csv_missing_state_and_detail_are_empty():
    assert render_csv([("a", {}), ("b", {"detail": "d"})]) == "a\t\t\nb\t\td"


def test_csv_values_are_text():
    items = [(1, {"state": "OK", "detail": 2.5}), ("l", {"state": "OK", "detail": [1]})]
    assert render_csv(items) == "1\tOK\t2.5\nl\tOK\t[1]"


def test_csv_escapes_separators_and_line_breaks():
    detail = "1\r2\x003\u20284\u20295\x856\x7f"
    items = [("a\tb\nc", {"state": "O\tK", "detail": detail})]
    assert render_csv(items) == (
        "a\\tb\\nc\tO\\tK\t1\\r2\\x003\\u20284\\u20295\\x856\\x7f"
    )


def test_csv_keeps_other_unicode():
    items = [("caf\u00e9 \u00a0", {"state": "OK", "detail": "\U0001f600 \u200b"})]
    assert render_csv(items) == "caf\u00e9 \u00a0\tOK\t\U0001f600 \u200b"


def test_csv_does_not_touch_backslashes():
    assert render_csv([("a\\n", {"state": "OK", "detail": "\\t"})]) == "a\\n\tOK\t\\t"
