"""The Kubernetes health text: byte-for-byte tests of :mod:`.render.kubernetes`."""
from __future__ import annotations

from lovely.ws.status.render.kubernetes import (
    KUBERNETES_CONTENT_TYPE,
    NOT_FOUND_BODY,
    WITHHELD,
    Line,
    render_check,
    render_checks,
)


def test_constants_are_the_api_servers():
    assert KUBERNETES_CONTENT_TYPE == "text/plain; charset=utf-8"
    assert WITHHELD == "reason withheld"
    assert NOT_FOUND_BODY == "404 page not found\n"


def test_passing_is_ok_without_a_newline():
    assert render_checks("readyz", [Line("db", True)], verbose=False) == (True, "ok")
    assert render_checks("livez", [], verbose=False) == (True, "ok")


def test_verbose_lists_each_check_and_ends_with_passed():
    lines = [Line("ping", True), Line("db", True, excluded=True), Line("cache", True, "YELLOW")]
    assert render_checks("readyz", lines, verbose=True) == (True, (
        "[+]ping ok\n"
        "[+]db excluded: ok\n"
        "[+]cache ok (YELLOW)\n"
        "readyz check passed\n"
    ))


def test_a_failure_is_always_verbose():
    lines = [Line("ping", True), Line("etcd", False, WITHHELD)]
    assert render_checks("livez", lines, verbose=False) == (False, (
        "[+]ping ok\n"
        "[-]etcd failed: reason withheld\n"
        "livez check failed\n"
    ))


def test_unmatched_excludes_are_a_sorted_warning_in_go_quotes():
    passed, body = render_checks("readyz", [Line("db", True)], verbose=True,
                                 unmatched=["zz", "a\"b", "a\\b", "zz"])
    assert passed
    assert body == (
        "[+]db ok\n"
        'warn: some health checks cannot be excluded: no matches for "a\\"b","a\\\\b","zz"\n'
        "readyz check passed\n"
    )


def test_unmatched_excludes_are_not_shown_on_a_quiet_success():
    assert render_checks("readyz", [Line("db", True)], False, ["zz"]) == (True, "ok")


def test_names_and_reasons_stay_on_their_line():
    lines = [Line("a\nb", False, "line one\nline two\x1b[31m")]
    assert render_checks("readyz", lines, verbose=False)[1] == (
        "[-]a\\nb failed: line one\\nline two\\x1b[31m\n"
        "readyz check failed\n"
    )


def test_one_check():
    assert render_check(Line("db", True)) == "ok"
    assert render_check(Line("db", True, "YELLOW")) == "ok"
    assert render_check(Line("db", False, WITHHELD)) == "internal server error: reason withheld\n"
    assert render_check(Line("db", False, "down")) == "internal server error: down\n"
