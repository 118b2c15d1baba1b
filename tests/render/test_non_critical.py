"""How each format shows a non-critical handler: byte for byte, and
unchanged when every handler is critical."""
from __future__ import annotations

import re

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.evaluation import StatusReport
from lovely.ws.status.render import FORMATS
from lovely.ws.status.render.csv import mark_non_critical
from lovely.ws.status.render.html import render_html


def report(critical=None):
    return StatusReport(["mail", "db"], [{"state": RED, "detail": "smtp down"},
                                         {"state": OK}], [0.5, 0.25], 0.0, critical)


def test_mark_non_critical_copies():
    status = {"state": RED, "detail": "x", "other": 1}
    assert mark_non_critical(status) == {"state": RED, "detail": "(non-critical) x", "other": 1}
    assert status["detail"] == "x"
    assert mark_non_critical({"state": RED}) == {"state": RED, "detail": "(non-critical)"}
    assert mark_non_critical({"state": RED, "detail": None})["detail"] == "(non-critical)"
    assert mark_non_critical({"state": OK, "detail": 3})["detail"] == "(non-critical) 3"


def test_csv():
    assert FORMATS["csv"].render(report()) == "db\tOK\t\nmail\tRED\tsmtp down"
    assert FORMATS["csv"].render(report([True, True])) == "db\tOK\t\nmail\tRED\tsmtp down"
    assert FORMATS["csv"].render(report([False, True])) == (
        "db\tOK\t\nmail\tRED\t(non-critical) smtp down")


def test_json():
    assert FORMATS["json"].render(report()) == (
        '{"mail":{"state":"RED","detail":"smtp down"},"db":{"state":"OK"}}')
    assert FORMATS["json"].render(report([False, True])) == (
        '{"mail":{"state":"RED","detail":"smtp down","critical":false},"db":{"state":"OK"}}')


def test_prometheus_rows_keep_their_state():
    text = FORMATS["prometheus"].render(report([False, True]))
    assert 'svc_status{name="mail"} 2' in text


def test_html_row_and_overall_state():
    page = render_html([("db", {"state": OK}), ("mail", {"state": RED, "detail": "down"})],
                       None, 0, frozenset({"mail"}))
    assert ('<tr class="RED" data-state="RED" data-critical="false"><td class="name">mail</td>'
            '<td class="state">RED <span class="non-critical">non-critical</span></td>'
            '<td class="detail">down</td><td class="seconds"></td></tr>\n') in page
    assert '<tr class="OK" data-state="OK"><td class="name">db</td>' in page
    assert 'data-state="YELLOW">YELLOW</span>' in page
    assert re.search(r"<title>YELLOW - (.* - )?service status</title>", page)


def test_html_non_critical_yellow_and_critical_red():
    page = render_html([("a", {"state": YELLOW}), ("b", {"state": RED})], None, 0,
                       frozenset({"a"}))
    assert re.search(r"<title>RED - (.* - )?service status</title>", page)
    assert page == render_html([("a", {"state": YELLOW}), ("b", {"state": RED})], None, 0
                               ).replace('<tr class="YELLOW" data-state="YELLOW">',
                                         '<tr class="YELLOW" data-state="YELLOW" '
                                         'data-critical="false">').replace(
        '<td class="state">YELLOW</td>',
        '<td class="state">YELLOW <span class="non-critical">non-critical</span></td>')
