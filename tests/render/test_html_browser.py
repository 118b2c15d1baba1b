"""/svc_status.html in a real headless browser (Debian's chromium via Playwright)."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler, probestatus

from ..helpers import PATIENCE, make_app, wait_until
from ..servers import chromium, serve_wsgi

pytestmark = pytest.mark.server


# render/html.py's palette, as the browser computes it
GREEN_TEXT = "rgb(19, 115, 51)"  # #137333
AMBER_TEXT = "rgb(138, 75, 0)"  # #8a4b00
RED_TEXT = "rgb(179, 38, 30)"  # #b3261e
COLOURS = {OK: GREEN_TEXT, YELLOW: AMBER_TEXT, RED: RED_TEXT}
BACKGROUNDS = {
    OK: "rgb(230, 244, 234)",  # #e6f4ea
    YELLOW: "rgb(254, 247, 224)",  # #fef7e0
    RED: "rgb(252, 232, 230)",  # #fce8e6
}
#: The overall badge: its text and background.
BADGES = {
    OK: ("rgb(255, 255, 255)", "rgb(19, 115, 51)"),  # on #137333
    YELLOW: ("rgb(32, 33, 36)", "rgb(249, 171, 0)"),  # #202124 on #f9ab00
    RED: ("rgb(255, 255, 255)", "rgb(197, 34, 31)"),  # on #c5221f
}
LONG_WORD = "x" * 400


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def base_url():
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    with serve_wsgi(config.make_wsgi_app()) as base:
        yield base


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.dialogs = []
    page.requests = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message),
                                      dialog.dismiss()))
    page.on("request", lambda request: page.requests.append(request.url))
    try:
        yield page
    finally:
        context.close()


def rows_of(page):
    return page.eval_on_selector_all("tbody tr", """rows => rows.map(row => ({
        name: row.querySelector('td.name').textContent,
        state: row.querySelector('td.state').textContent,
        detail: row.querySelector('td.detail').textContent,
        colour: getComputedStyle(row.querySelector('td.state')).color,
        background: getComputedStyle(row).backgroundColor,
    }))""")


def overall_of(page):
    return page.eval_on_selector("#overall", """el => ({
        text: el.textContent,
        colour: getComputedStyle(el).color,
        background: getComputedStyle(el).backgroundColor,
    })""")


def badge(state):
    colour, background = BADGES[state]
    return {"text": state, "colour": colour, "background": background}


def test_one_row_per_handler_in_its_colour(page, base_url):
    addStatusHandler("database", lambda: {"state": OK, "detail": "12 ms"})
    addStatusHandler("cache", lambda: {"state": YELLOW, "detail": "warming up"})
    addStatusHandler("queue", lambda: {"state": RED, "detail": "stopped"})
    addStatusHandler("broken", lambda: 1 / 0)
    addStatusHandler("<script>alert('x')</script>",
                     lambda: {"state": OK, "detail": "<b>not bold</b> & \"quoted\""})
    response = page.goto(base_url + "/svc_status.html")
    assert response.status == 200
    assert page.title().startswith("RED - ") and page.title().endswith(" - service status")
    rows = rows_of(page)
    assert [(r["name"], r["state"], r["detail"]) for r in rows] == [
        ("<script>alert('x')</script>", OK, '<b>not bold</b> & "quoted"'),
        ("broken", RED, "ZeroDivisionError: division by zero"),
        ("cache", YELLOW, "warming up"),
        ("database", OK, "12 ms"),
        ("queue", RED, "stopped"),
    ]
    for row in rows:
        assert row["colour"] == COLOURS[row["state"]], row
        assert row["background"] == BACKGROUNDS[row["state"]], row
    assert overall_of(page) == badge(RED)
    assert page.locator("b").count() == 0  # the detail stayed text
    assert page.dialogs == []  # the handler name did not run as a script
    assert page.requests == [base_url + "/svc_status.html"]  # no external assets
    assert "5 handlers" in page.inner_text("footer")


@pytest.mark.parametrize("states, overall", [
    ([OK, OK], OK), ([OK, YELLOW], YELLOW), ([], OK),
])
def test_overall_badge(page, base_url, states, overall):
    for i, state in enumerate(states):
        addStatusHandler(f"h{i}", lambda state=state: {"state": state})
    page.goto(base_url + "/svc_status.html")
    assert overall_of(page) == badge(overall)
    rows = rows_of(page)
    assert len(rows) == len(states)
    assert [r["colour"] for r in rows] == [COLOURS[s] for s in states]


def test_timed_out_handler_shows_red(page, base_url):
    import threading

    release = threading.Event()
    addStatusHandler("hung", lambda: release.wait(30) and {"state": OK}, timeout=0.2)
    addStatusHandler("fine", lambda: {"state": OK})
    try:
        page.goto(base_url + "/svc_status.html")
        rows = rows_of(page)
    finally:
        release.set()
    assert [(r["name"], r["state"], r["colour"]) for r in rows] == [
        ("fine", OK, GREEN_TEXT), ("hung", RED, RED_TEXT),
    ]
    assert rows[1]["detail"].startswith("timed out after 0.2 seconds")


def test_the_content_security_policy_allows_the_page_s_own_style(page, base_url):
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    addStatusHandler("database", lambda: {"state": YELLOW})
    response = page.goto(base_url + "/svc_status.html")
    assert "style-src 'sha256-" in response.headers["content-security-policy"]
    # styled: the policy let the page's own <style> through, and nothing was refused
    assert overall_of(page) == badge(YELLOW)
    assert [m for m in messages if "Content Security Policy" in m] == []
    # an inline script (none is on the page) would be refused
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.ran = true';
        document.body.appendChild(s);
    }""")
    assert page.evaluate("() => window.ran === true") is False
    assert any("Content Security Policy" in m for m in messages)


# ------------------------------------------------------------ the operators' page

SVC = "lovely.ws.status.svcstatus"
PAGE = "/svc_status.html"


class Flapping:
    """A handler whose state changes at each call: OK, YELLOW, RED, OK..."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"state": (OK, YELLOW, RED)[(self.calls - 1) % 3], "detail": f"call {self.calls}"}


def busy_app(tmp_path, workers=3, refresh="0"):
    """An app with a long name, a long version, a decommissioned probe and
    handlers in every state: with history, labels, a cached result, long
    unbroken names and details."""
    version = tmp_path / "version.json"
    version.write_text('{"version": "2.1.0-%s", "commit": "%s"}' % (LONG_WORD, "f" * 40))

    def setup(config):
        config.add_status_handler("flapping", Flapping())
        config.add_status_handler("payments-" + LONG_WORD,
                                  lambda: {"state": RED, "detail": LONG_WORD * 5})
        config.add_status_handler("cache", lambda: {"state": YELLOW, "detail": "warming up"},
                                  ttl=3600)
        config.add_status_handler("db", lambda: {
            "state": OK, "detail": "3 ms", "labels": {"connections_" + LONG_WORD: 4, "idle": 2}})
        config.add_status_handler("mail", lambda: {"state": RED, "detail": "smtp down"},
                                  critical=False)
        for i in range(workers):
            config.add_status_handler(f"worker-{i:03}", lambda: {"state": OK, "detail": "idle"})

    app = make_app(SVC, "lovely.ws.status.probestatus", "lovely.ws.status.dockerflow",
                   settings={"svcstatus.name": "shop-" + LONG_WORD,
                             "svcstatus.html_refresh": refresh,
                             "dockerflow.version_file": str(version)},
                   setup=setup)
    probestatus.RESPONSE_BODY = "OFF " + LONG_WORD
    for _ in range(4):  # a history for the flapping handler; the cache filled
        app.get(PAGE)
    return app.app


def page_at(browser, width, height=800):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    return context, page


def violations(page):
    return [m for m in page.console if "Content Security Policy" in m]


CONTRASTS = """() => {
    const rgba = text => {
        const parts = text.match(/rgba?\\(([^)]+)\\)/)[1].split(',').map(Number);
        return {rgb: parts.slice(0, 3), alpha: parts.length > 3 ? parts[3] : 1};
    };
    const luminance = rgb => {
        const [r, g, b] = rgb.map(v => {
            v /= 255;
            return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const backgroundOf = element => {
        for (; element; element = element.parentElement) {
            const colour = rgba(getComputedStyle(element).backgroundColor);
            if (colour.alpha > 0) return colour.rgb;
        }
        return [255, 255, 255];
    };
    const found = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (!node.textContent.trim()) continue;
        const element = node.parentElement;
        const [light, dark] = [luminance(rgba(getComputedStyle(element).color).rgb),
                               luminance(backgroundOf(element))].sort((a, b) => b - a);
        found.push({text: node.textContent.slice(0, 30),
                    ratio: (light + 0.05) / (dark + 0.05)});
    }
    return found;
}"""


@pytest.mark.parametrize("width", [400, 1280])
def test_readable_without_horizontal_scrolling(browser, tmp_path, width):
    with serve_wsgi(busy_app(tmp_path)) as base:
        context, page = page_at(browser, width)
        try:
            page.goto(base + PAGE)
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            assert page.locator("#banner").inner_text().startswith("Out of service")
            assert page.locator(".strip li").count() >= 3  # the flapping handler's
            assert "cached" in page.locator("td.notes").all_inner_texts()[0]
            # every text (the non-colour cue of each state too) is readable
            contrasts = page.evaluate(CONTRASTS)
            assert {c["text"] for c in contrasts} >= {OK, YELLOW, RED, "non-critical"}
            assert [c for c in contrasts if c["ratio"] < 4.5] == []
            assert violations(page) == []
        finally:
            context.close()


def test_narrow_rows_stack_their_cells(browser, tmp_path):
    with serve_wsgi(busy_app(tmp_path)) as base:
        context, page = page_at(browser, 400)
        try:
            page.goto(base + PAGE)
            # the header row is out of sight; each cell says what it is
            assert page.eval_on_selector("thead", "el => el.getBoundingClientRect().width") <= 1
            took = page.eval_on_selector(
                "td.seconds", "el => getComputedStyle(el, '::before').content")
            assert took == '"took "'
        finally:
            context.close()


def test_reloads_and_keeps_the_scroll_position(browser, tmp_path):
    with serve_wsgi(busy_app(tmp_path, workers=150, refresh="1")) as base:
        context, page = page_at(browser, 400, height=600)
        try:
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(base + PAGE)
            rendered = page.get_attribute("footer time", "datetime")
            page.evaluate("window.scrollTo(0, 3000)")
            assert page.evaluate("window.scrollY") == 3000
            page.wait_for_function(
                "rendered => document.querySelector('footer time')"
                " && document.querySelector('footer time').getAttribute('datetime') !== rendered",
                arg=rendered, timeout=PATIENCE * 1000)

            def scrolled():
                try:
                    return page.evaluate("window.scrollY") == 3000
                except Exception:  # the page is being replaced by the next reload
                    return False

            wait_until(scrolled, "the scroll position on the reloaded page")
            assert requests.count(base + PAGE) >= 2
            # the browser's own reload: no script, nothing the policy refused
            assert page.locator("script").count() == 0
            assert violations(page) == []
        finally:
            context.close()
