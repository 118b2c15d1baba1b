"""HTTPCheck against the loopback server of the ``web`` fixture."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse

import pytest

from lovely.ws.status import OK, RED
from lovely.ws.status.checks import HTTPCheck

from ..helpers import PATIENCE
from ..servers import free_port


def test_http_ok(web):
    status = HTTPCheck(web.base + "/ok")()
    assert status["state"] == OK
    assert status["detail"].startswith("HTTP 200 OK in ")
    assert status["detail"].endswith(" ms")


def test_http_500_is_red(web):
    assert HTTPCheck(web.base + "/fail")() == {
        "state": RED,
        "detail": "HTTP 500 Internal Server Error, expected 200",
    }


def test_http_other_expected_status(web):
    assert HTTPCheck(web.base + "/fail", expect_status=500)()["state"] == OK
    assert HTTPCheck(web.base + "/no-content", expect_status=(200, 204))()["state"] == OK
    assert HTTPCheck(web.base + "/missing", expect_status=(200, 204))() == {
        "state": RED,
        "detail": "HTTP 404 Not Found, expected 200 or 204",
    }


def test_http_hanging_server_is_red_after_the_timeout(web):
    status = HTTPCheck(web.base + "/hang", timeout=0.3)()
    assert status["state"] == RED
    assert status["detail"] in ("TimeoutError: timed out", "timeout: timed out")


def test_http_nothing_listening_is_red():
    status = HTTPCheck(f"http://127.0.0.1:{free_port()}/", timeout=2)()
    assert status == {
        "state": RED,
        "detail": "ConnectionRefusedError: [Errno 111] Connection refused",
    }


def test_http_follows_redirects_to_http(web):
    status = HTTPCheck(web.base + "/redirect?to=/ok")()
    assert status["state"] == OK
    assert [path for path, _ in web.seen] == ["/redirect", "/ok"]


@pytest.mark.parametrize(
    "target", ["ftp://127.0.0.1/file", "file:///etc/passwd", "gopher://127.0.0.1/"]
)
def test_http_never_follows_to_other_schemes(web, target):
    status = HTTPCheck(web.base + "/redirect?" + urllib.parse.urlencode({"to": target}))()
    assert status["state"] == RED
    scheme = target.split(":")[0]
    assert status["detail"] == (
        f"RedirectRefused: refused to follow a redirect (302) to a {scheme} URL;"
        " only http and https are followed"
    )
    assert [path for path, _ in web.seen] == ["/redirect"]


def test_http_without_following_redirects(web):
    url = web.base + "/redirect?to=/ok"
    assert HTTPCheck(url, follow_redirects=False)() == {
        "state": RED,
        "detail": "HTTP 302 Found, expected 200",
    }
    assert HTTPCheck(url, follow_redirects=False, expect_status=302)()["state"] == OK
    assert [path for path, _ in web.seen] == ["/redirect", "/redirect"]


def test_http_credentials_become_basic_auth_and_stay_hidden(web):
    host = web.base[len("http://") :]
    good = HTTPCheck(f"http://me:s3cr%40t%20pw@{host}/auth")
    assert good.url == web.base + "/auth"
    assert good()["state"] == OK
    bad = HTTPCheck(f"http://me:wrong-pw@{host}/auth")()
    assert bad == {"state": RED, "detail": "HTTP 401 Unauthorized, expected 200"}
    assert "wrong-pw" not in repr(HTTPCheck(f"http://me:wrong-pw@{host}/auth"))


def test_http_credentials_are_not_sent_after_a_redirect(web):
    host = web.base[len("http://") :]
    status = HTTPCheck(f"http://me:s3cr%40t%20pw@{host}/redirect?to=/ok")()
    assert status["state"] == OK
    (first, first_auth), (second, second_auth) = web.seen
    assert first == "/redirect" and first_auth is not None
    assert second == "/ok" and second_auth is None


def test_http_password_hidden_in_errors():
    port = free_port()
    status = HTTPCheck(f"http://me:pw-in-url-9@127.0.0.1:{port}/")()
    assert status["state"] == RED
    assert "pw-in-url-9" not in json.dumps(status)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/", "http:///nohost", "127.0.0.1:80"]
)
def test_http_only_http_urls(url):
    with pytest.raises(ValueError, match="http or https URL"):
        HTTPCheck(url)


@pytest.mark.parametrize("expect", [0, 1000, "x", True, (), [200, "bad"]])
def test_http_bad_expected_status(expect):
    with pytest.raises(ValueError):
        HTTPCheck("http://127.0.0.1/", expect_status=expect)


def test_http_bad_timeout():
    with pytest.raises(ValueError, match="seconds"):
        HTTPCheck("http://127.0.0.1/", timeout=0)


@pytest.mark.parametrize(
    "timeout", [1e300, float("inf"), float("nan"), -1, 2 * threading.TIMEOUT_MAX]
)
def test_http_timeout_out_of_range_is_refused_at_once(timeout):
    # Refused when the check is made, not by every call RED afterwards.
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        HTTPCheck("http://x", timeout=timeout)


@pytest.mark.parametrize("timeout", ["5", None, True])
def test_http_timeout_must_be_a_number(timeout):
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        HTTPCheck("http://x", timeout=timeout)


def test_http_longest_timeout_works(web):
    check = HTTPCheck(web.base + "/ok", timeout=threading.TIMEOUT_MAX)
    assert check.timeout == threading.TIMEOUT_MAX
    assert check()["state"] == OK


def test_http_options_from_settings():
    check = HTTPCheck.from_settings(
        {},
        {
            "url": "http://x/",
            "request_timeout": " 2.5 ",
            "expect_status": "200 204",
            "follow_redirects": "no",
        },
    )
    assert (check.timeout, check.expect_status, check.follow_redirects) == (
        2.5,
        (200, 204),
        False,
    )
    default = HTTPCheck.from_settings({}, {"url": "http://x/", "request_timeout": " "})
    assert (default.timeout, default.follow_redirects) == (5.0, True)


@pytest.fixture
def trickling_server():
    """A loopback HTTP server that answers one byte every 0.1 s, for ever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)  # accept() wakes up to see stop
    stop = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100_000

    def trickle(conn):
        with conn:
            try:
                conn.recv(65536)
                for byte in answer:
                    if stop.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        listener.close()




def test_http_check_gives_up_after_its_timeout_on_a_trickling_server(trickling_server):
    # A timeout per read would let a server sending a byte now and then hold
    # the check (and its thread) as long as it likes: this one would take
    # hours to send its answer, so a check that returns has given up.
    check = HTTPCheck(trickling_server, timeout=0.5)
    results = []
    thread = threading.Thread(target=lambda: results.append(check()), daemon=True)
    thread.start()
    thread.join(PATIENCE)
    assert results, "HTTPCheck(timeout=0.5) did not give up on a trickling server"
    assert results[0]["state"] == "RED"
    assert "0.5 s" in results[0]["detail"]
