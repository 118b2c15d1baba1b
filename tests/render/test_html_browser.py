"""/svc_status.html in a real headless browser (Debian's chromium via Playwright)."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler

from ..servers import chromium, serve_wsgi

pytestmark = pytest.mark.server


# render/html.py's palette, as the browser computes it
GREEN_TEXT = "rgb(30, 142, 62)"  # #1e8e3e
AMBER_TEXT = "rgb(249, 171, 0)"  # #f9ab00
RED_TEXT = "rgb(217, 48, 37)"  # #d93025
COLOURS = {OK: GREEN_TEXT, YELLOW: AMBER_TEXT, RED: RED_TEXT}
BACKGROUNDS = {
    OK: "rgb(230, 244, 234)",  # #e6f4ea
    YELLOW: "rgb(254, 247, 224)",  # #fef7e0
    RED: "rgb(252, 232, 230)",  # #fce8e6
}
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
        background: getComputedStyle(el).backgroundColor,
    })""")


def test_one_row_per_handler_in_its_colour(page, base_url):
    addStatusHandler("database", lambda: {"state": OK, "detail": "12 ms"})
    addStatusHandler("cache", lambda: {"state": YELLOW, "detail": "warming up"})
    addStatusHandler("queue", lambda: {"state": RED, "detail": "stopped"})
    addStatusHandler("broken", lambda: 1 / 0)
    addStatusHandler("<script>alert('x')</script>",
                     lambda: {"state": OK, "detail": "<b>not bold</b> & \"quoted\""})
    response = page.goto(base_url + "/svc_status.html")
    assert response.status == 200
    assert page.title() == "RED - service status"
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
    assert overall_of(page) == {"text": RED, "background": RED_TEXT}
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
    assert overall_of(page) == {"text": overall, "background": COLOURS[overall]}
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
    assert overall_of(page) == {"text": YELLOW, "background": AMBER_TEXT}
    assert [m for m in messages if "Content Security Policy" in m] == []
    # an inline script (none is on the page) would be refused
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.ran = true';
        document.body.appendChild(s);
    }""")
    assert page.evaluate("() => window.ran === true") is False
    assert any("Content Security Policy" in m for m in messages)
