"""The operators' page: :func:`render_page` with a :class:`PageContext`
(app, host, version, probe, reloads), the history and origin of each
result, hostile text, and the contrast of every colour pair."""
from __future__ import annotations

import re
import signal
from html.parser import HTMLParser

import pytest

from lovely.ws.status import config as status_config
from lovely.ws.status.evaluation.history import Transition
from lovely.ws.status.evaluation.report import Origin, StatusReport
from lovely.ws.status.probe.drain import Drainer
from lovely.ws.status.render import FORMATS, html_context
from lovely.ws.status.render.html import (
    DEFAULT_REFRESH,
    DRAINING,
    HOST,
    OUT_OF_SERVICE,
    PROBE_UNREACHABLE,
    PageContext,
    ProbeBanner,
    render_html,
    render_page,
    version_fields,
)
from lovely.ws.status.states import OK, RED, STATES, YELLOW

from ..helpers import app_status

NOW = 1_700_000_000.0
PLAIN = PageContext(host=None, refresh=0)


class Page(HTMLParser):
    """The parts of a page: its rows (the text of each cell by class), the
    text of elements with an id or class, and every tag seen."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows = []
        self.tags = []
        self.texts = {}
        self._open = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and "data-state" in attrs:
            self.rows.append(dict(attrs))
        key = attrs.get("id") or attrs.get("class")
        if tag not in ("meta", "br"):
            self._open.append((tag, key))
            if key and key not in self.texts:
                self.texts[key] = ""

    def handle_endtag(self, tag):
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data):
        for _, key in self._open:
            if key:
                self.texts[key] = self.texts.get(key, "") + data
        cell = next((key for tag, key in reversed(self._open) if tag == "td"), None)
        if cell and self.rows:
            row = self.rows[-1]
            row[cell] = row.get(cell, "") + data


def report(names, statuses, durations=None, **columns):
    r = StatusReport(list(names), list(statuses),
                     list(durations or [None] * len(names)), timestamp=NOW,
                     critical=columns.pop("critical", None))
    for key, value in columns.items():
        setattr(r, key, value)
    return r


def timed(names, statuses, changed, transitions, **columns):
    return report(names, statuses, changed=changed, transitions=transitions, **columns)


# ---------------------------------------------------------------- the context


def test_name_host_and_version_at_the_top():
    page = render_page(report(["db"], [{"state": OK}]), PageContext(
        name="shop", host="web-1", version={"version": "2.1.0", "commit": "abc123"},
        refresh=0))
    assert ('<h1>shop <span class="overall" id="overall" data-state="OK">OK</span></h1>\n'
            '<dl class="facts"><div class="host"><dt>Host</dt><dd>web-1</dd></div>'
            '<div class="version"><dt>Version</dt><dd>2.1.0</dd></div>'
            '<div class="commit"><dt>Commit</dt><dd>abc123</dd></div></dl>\n'
            '<p class="summary">1 OK</p>\n</header>\n<table>') in page
    # a tab shows the state first, then which app where
    assert "<title>OK - shop on web-1 - service status</title>" in page


def test_without_context_the_host_is_this_one_and_there_is_nothing_else():
    page = Page(render_page(report(["db"], [{"state": OK}])))
    assert page.texts["host"] == f"Host{HOST}"
    assert "version" not in page.texts and "commit" not in page.texts
    assert "banner" not in page.texts
    assert PageContext().refresh == DEFAULT_REFRESH


def test_a_version_without_a_commit():
    page = render_page(report([], []), PageContext(version={"version": "7"}))
    assert '<dt>Version</dt><dd>7</dd>' in page and "Commit" not in page


@pytest.mark.parametrize("probe, title, sentence", [
    (ProbeBanner(DRAINING, "DRAINING"), "Draining",
     "this process is stopping; the probe answers DRAINING, so load balancers "
     "send it no new requests."),
    (ProbeBanner(OUT_OF_SERVICE, "OFF"), "Out of service",
     "the probe answers OFF, so load balancers send this instance no requests."),
    (ProbeBanner(PROBE_UNREACHABLE), "Out of service",
     "the probe's store cannot be read, so the probe answers 503."),
])
def test_a_banner_says_why_the_probe_fails(probe, title, sentence):
    page = render_page(report(["db"], [{"state": OK}]), PageContext(probe=probe))
    assert f'<p class="banner" id="banner" role="status" data-kind="{probe.kind}">' in page
    # in words, not by colour alone (the browser quotes the text of a <q>)
    assert Page(page).texts["banner"] == f"{title}: {sentence}"
    assert (f"<q>{probe.text}</q>" in page) == bool(probe.text)


# ------------------------------------------------------------ per handler


def test_since_when_and_the_recent_transitions():
    r = timed(
        ["db", "cache"], [{"state": OK}, {"state": YELLOW}],
        changed=[NOW - 7200, NOW - 300],
        transitions=[(Transition(NOW - 7200, OK),),
                     (Transition(NOW - 900, OK), Transition(NOW - 600, RED),
                      Transition(NOW - 300, YELLOW))])
    page = render_page(r, PLAIN)
    assert "<th>Took</th><th>In state</th></tr>" in page
    assert ('<td class="since"><time datetime="2023-11-14T22:08:20+00:00" '
            'title="since 2023-11-14T22:08:20+00:00">5 min</time>'
            '<ol class="strip" aria-label="recent states, oldest first">'
            '<li class="OK" title="OK from 2023-11-14T21:58:20+00:00">OK</li>'
            '<li class="RED" title="RED from 2023-11-14T22:03:20+00:00">RED</li>'
            '<li class="YELLOW" title="YELLOW from 2023-11-14T22:08:20+00:00">YELLOW</li>'
            "</ol></td>") in page
    # one transition: when this process first saw it, so "at least"
    assert ('<td class="since">at least <time datetime="2023-11-14T20:13:20+00:00" '
            'title="since 2023-11-14T20:13:20+00:00">2 h</time></td>') in page


@pytest.mark.parametrize("ago, shown", [
    (0, "0 s"), (-5, "0 s"), (59.9, "59 s"), (60, "1 min"), (3599, "59 min"),
    (3600, "1 h"), (3 * 3600 + 20 * 60, "3 h 20 min"), (2 * 86400, "2 d"),
    (2 * 86400 + 4 * 3600, "2 d 4 h"),
])
def test_relative_times(ago, shown):
    r = timed(["a", "b"], [{"state": OK}] * 2, changed=[NOW - ago] * 2,
              transitions=[(Transition(NOW - 999999, RED), Transition(NOW - ago, OK))] * 2)
    # the time, then the strip of states
    assert Page(render_page(r, PLAIN)).rows[0]["since"] == shown + "RED" + "OK"


def test_now_may_be_given():
    r = timed(["a"], [{"state": OK}], changed=[NOW - 60], transitions=[()])
    assert Page(render_page(r, PageContext(now=NOW + 3540))).rows[0]["since"] == (
        "at least 1 h")


def test_labels_and_where_a_result_came_from():
    r = timed(
        ["a", "b", "c", "d", "e"],
        [{"state": OK, "labels": {"connections": 4, "idle": 2.5, "up": True}},
         {"state": OK}, {"state": OK}, {"state": RED, "detail": "stale"}, {"state": OK}],
        changed=[NOW] * 5, transitions=[()] * 5,
        origins={"a": Origin("background", NOW - 1), "b": Origin("cached", NOW - 3),
                 "c": Origin("shared", NOW - 12, "web-2:4711"),
                 "d": Origin("stale", NOW - 90)})
    rows = {row["name"]: row for row in Page(render_page(r, PLAIN)).rows}
    assert rows["a"]["notes"] == "background, 1 s old connections 4 idle 2.5 up 1"
    assert rows["b"]["notes"] == "cached, 3 s old"
    assert rows["c"]["notes"] == "shared by web-2:4711, 12 s old"
    assert rows["d"]["notes"] == "stale, 1 min old"
    assert "notes" not in rows["e"]  # an empty cell
    page = render_page(r, PLAIN)
    assert '<span class="origin" data-origin="shared">shared by web-2:4711, 12 s old</span>' in page
    assert '<span class="label">connections <b>4</b></span>' in page
    assert "<th>In state</th><th>Notes</th>" in page


def test_no_notes_column_without_notes():
    page = render_page(report(["a"], [{"state": OK, "labels": {}}]), PLAIN)
    assert "Notes" not in page and 'class="notes"' not in page


def test_non_critical_rows_say_so_and_count_as_yellow():
    page = render_page(report(["a", "b"], [{"state": RED}, {"state": OK}],
                              critical=[False, True]), PLAIN)
    assert ('<tr class="RED" data-state="RED" data-critical="false"><td class="name">a</td>'
            '<td class="state">RED <span class="non-critical">non-critical</span></td>') in page
    assert 'id="overall" data-state="YELLOW"' in page
    assert '<p class="summary">1 OK, 1 RED</p>' in page


def test_a_report_without_details_shows_states_only():
    full = timed(["db"], [{"state": RED, "detail": "refused", "labels": {"n": 1}}],
                 changed=[NOW - 60], transitions=[(Transition(NOW - 60, RED),)],
                 origins={"db": Origin("shared", NOW, "web-2:1")})
    full.durations = [0.5]
    bare = full.without_details()
    assert bare.origins is None and bare.changed is None and bare.transitions is None
    page = render_page(bare, PLAIN)
    for hidden in ("refused", "web-2", 'class="label"', 'class="since"', 'class="notes"',
                   "500 ms"):
        assert hidden not in page
    assert ('<td class="name">db</td><td class="state">RED</td><td class="detail"></td>'
            '<td class="seconds"></td></tr>') in page


def test_the_format_and_render_html_agree_on_a_plain_report():
    r = report(["b", "a"], [{"state": RED}, {"state": OK}], [0.5, 0.25])
    assert FORMATS["html"].render(r) == render_page(r) == render_html(
        [("a", {"state": OK}), ("b", {"state": RED})], {"a": 0.25, "b": 0.5}, NOW)


def test_names_that_do_not_sort_together():
    page = Page(render_page(report([2, "b", 1], [{"state": OK}] * 3), PLAIN))
    assert [row["name"] for row in page.rows] == ["1", "2", "b"]


# ------------------------------------------------------------ hostile text


class Loud:
    def __str__(self):
        raise RuntimeError("no")


HOSTILE = "<script>alert('x')</script>\" onload=\"x\x1b[31m\x00\n\u2028" + "w" * 100_000


def test_every_text_is_escaped():
    r = timed(
        [HOSTILE], [{"state": OK, "detail": HOSTILE,
                     "labels": {HOSTILE: HOSTILE, Loud(): Loud(), "big": 10**5000}}],
        changed=[NOW], transitions=[(Transition(NOW - 1, HOSTILE), Transition(NOW, OK))],
        origins={HOSTILE: Origin(HOSTILE, NOW, HOSTILE)})
    text = render_page(r, PageContext(
        name=HOSTILE, host=HOSTILE, version={"version": HOSTILE, "commit": HOSTILE},
        probe=ProbeBanner(OUT_OF_SERVICE, HOSTILE)))
    page = Page(text)
    assert "script" not in page.tags
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u2028]", text)
    assert "<script>" not in text and "\" onload=\"" not in text
    shown = "<script>alert('x')</script>\" onload=\"x\\x1b[31m\\x00\\n\\u2028" + "w" * 100_000
    row = page.rows[0]
    assert row["name"] == row["detail"] == shown
    assert page.texts["overall"] == OK
    assert page.texts["banner"].count(shown) == 1
    assert "<unprintable Loud> <unprintable Loud>" in row["notes"]
    assert "big +Inf" in row["notes"]
    # an unknown state in the history shows as RED; an unknown origin by its text
    assert '<li class="RED"' in text
    assert f"shared by {shown}" not in row["notes"] and f"{shown}, 0 s old" in row["notes"]


# ------------------------------------------------------------ contrast (WCAG 2)


def luminance(colour):
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    channels = [int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one, other):
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rules(page):
    """``{selector: {property: value}}`` of the page's style sheet."""
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    found = {}
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style):
        declarations = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";")) if value)
        found[" ".join(selector.split())] = declarations
    return found


def test_the_contrast_ratio_of_known_colours():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#f9ab00", "#fef7e0") == pytest.approx(1.8, abs=0.05)


@pytest.mark.parametrize("overall", STATES)
def test_every_text_colour_has_a_contrast_of_at_least_4_5(overall):
    r = report(["a", "b", "c"], [{"state": OK}, {"state": YELLOW}, {"state": overall}])
    css = rules(render_page(r, PageContext(probe=ProbeBanner(DRAINING, "x"))))
    rows = {state: css[f"tr.{state}"]["background"] for state in STATES}
    page_background = css["body"]["background"]
    checked = []
    for selector, declarations in css.items():
        colour = declarations.get("color")
        if colour is None:
            continue
        if "background" in declarations:
            backgrounds = [declarations["background"]]
        elif selector.startswith("tr."):
            backgrounds = [rows[selector.split()[0][3:]]]
        else:  # text that may sit on the page or on any row
            backgrounds = [page_background, *rows.values()]
        for background in backgrounds:
            ratio = contrast(colour, background)
            assert ratio >= 4.5, (selector, colour, background, ratio)
            checked.append(selector)
    for state in STATES:
        assert f"tr.{state} td.state" in checked and f".strip .{state}" in checked
    assert {".overall", ".banner", "body", "footer", "th"} <= set(checked)


# ------------------------------------------------------------ html_context


def test_the_context_of_an_app():
    app = app_status()
    assert html_context(app) == PageContext(host=HOST)
    app.settings.update({"svcstatus.name": "shop", "svcstatus.html_refresh": 30.0})
    app.version = lambda request: b'{"version": "1.2", "commit": "abc", "build": "x"}'
    app.probe_text = lambda: OK
    context = html_context(app, request=object())
    assert context == PageContext(name="shop", host=HOST,
                                  version={"version": "1.2", "commit": "abc"}, refresh=30.0)
    # no request, no version (its source wants one)
    assert html_context(app).version is None


def test_the_registry_names_the_app_unless_a_setting_does():
    from pyramid.registry import Registry, global_registry

    app = app_status()
    assert html_context(app, Registry("myapp")).name == "myapp"
    assert html_context(app, Registry("")).name is None
    # Pyramid's global registry (a view called without an app) is no app
    assert html_context(app, global_registry).name is None
    app.settings["svcstatus.name"] = "shop"
    assert html_context(app, Registry("myapp")).name == "shop"


def test_a_version_source_that_fails_shows_no_version():
    app = app_status()

    def broken(request):
        raise OSError("gone")

    app.version = broken
    assert html_context(app, request=object()).version is None
    app.version = lambda request: b"not json"
    assert html_context(app, request=object()).version == {}


def test_the_banner_of_the_probe():
    app = app_status()
    app.probe_text = lambda: "OFF"
    assert html_context(app).probe == ProbeBanner(OUT_OF_SERVICE, "OFF")
    drainer = Drainer(30, "BYE", signal.SIGTERM, signal.SIG_DFL)  # never installed
    app.drainer = drainer
    assert html_context(app).probe == ProbeBanner(OUT_OF_SERVICE, "OFF")
    drainer.draining = True
    app.probe_text = lambda: drainer.text
    assert html_context(app).probe == ProbeBanner(DRAINING, "BYE")

    def unreachable():
        raise ConnectionError("redis down")

    app.probe_text = unreachable
    assert html_context(app).probe == ProbeBanner(PROBE_UNREACHABLE)


@pytest.mark.parametrize("body, fields", [
    (b'{"version": "1.2.3", "commit": "abc", "source": "x"}',
     {"version": "1.2.3", "commit": "abc"}),
    (b'{"version": 7}', {"version": "7"}),
    (b'{"version": true, "commit": ["a"]}', {}),
    (b'{"version": ""}', {}),
    (b"[1]", {}), (b"{", {}), (b"\xff", {}), (b"[" * 100_000, {}),
])
def test_version_fields(body, fields):
    assert version_fields(body) == fields


def test_the_settings_default_is_the_page_s():
    defaults = {s.key: s.default for s in status_config.SVCSTATUS_SETTINGS}
    assert defaults["svcstatus.html_refresh"] == DEFAULT_REFRESH
    assert defaults["svcstatus.name"] is None
