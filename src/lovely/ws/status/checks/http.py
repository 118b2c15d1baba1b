"""A check on an HTTP service: :class:`HTTPCheck` sends a ``GET``.

Only the standard library is used. A deadline bounds the whole answer,
since a socket timeout bounds each read only.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ..settings import MAX_SECONDS, seconds
from ..states import OK, RED
from ..text import describe_exception, redact, secret_forms
from .base import Check, check_options, format_ms, option_bool, option_seconds, option_text

__all__: List[str] = ["HTTPCheck", "RedirectRefused"]


class RedirectRefused(urllib.error.URLError):
    """A redirect to a URL that is not ``http`` or ``https``."""

    def __str__(self) -> str:
        return str(self.reason)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only, or none at all."""

    def __init__(self, follow: bool) -> None:
        self.follow = follow

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        if not self.follow:
            return None  # the 3xx answer itself is the result
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urllib.parse.urljoin(req.full_url, location)
            scheme = urllib.parse.urlsplit(target).scheme.lower()
            if scheme not in ("http", "https"):
                fp.close()
                raise RedirectRefused(
                    f"refused to follow a redirect ({code}) to a "
                    f"{scheme or 'scheme-less'} URL; only http and https are followed"
                )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


# ----------------------------------------------------------------- deadline

# The deadline of the HTTPCheck running in this thread, for the connections
# its opener makes (redirects and proxies included).
_DEADLINE = threading.local()


class _Deadline:
    """Shuts the connections of one check down when its time is up.

    A socket timeout bounds each read, not the answer: a server sending a
    byte now and then would hold the check for as long as it liked.
    """

    def __init__(self, limit: float) -> None:
        self.end = time.monotonic() + limit
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: List[socket.socket] = []
        # A little later than the socket timeout: a server that says nothing
        # at all is the socket timeout's to report ("timed out").
        delay = min(limit + max(0.05, limit / 10), MAX_SECONDS)
        self._timer = threading.Timer(delay, self.expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def remaining(self) -> float:
        return max(self.end - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket) -> None:
        # A duplicate: shutdown() acts on the connection whatever object
        # (plain, or the SSL socket wrapped around it later) reads from it.
        try:
            dup = sock.dup()
        except OSError:
            return
        with self._lock:
            if not self.expired:
                self._sockets.append(dup)
                return
        _shutdown(dup)
        dup.close()

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    return isinstance(exc, (socket.timeout, TimeoutError))


def _create_connection(address: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> Any:
    deadline = getattr(_DEADLINE, "current", None)
    if deadline is not None:
        remaining = deadline.remaining()
        if not isinstance(timeout, (int, float)) or timeout > remaining:
            timeout = remaining
    sock = socket.create_connection(address, timeout, *args, **kwargs)
    if deadline is not None:
        deadline.watch(sock)
    return sock


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _create_connection


_CONNECTIONS: Dict[Any, Any] = {http.client.HTTPConnection: _HTTPConnection}

if hasattr(http.client, "HTTPSConnection"):  # Python built with ssl

    class _HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = _create_connection

    _CONNECTIONS[http.client.HTTPSConnection] = _HTTPSConnection


class _HTTPHandler(urllib.request.HTTPHandler):
    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_CONNECTIONS.get(http_class, http_class), req, **kwargs)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_CONNECTIONS.get(http_class, http_class), req, **kwargs)


# -------------------------------------------------------------------- check


def _expected_statuses(value: Union[int, str, Iterable[Any]]) -> Tuple[int, ...]:
    if isinstance(value, str):
        items: List[Any] = value.replace(",", " ").split()
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise ValueError(f"expected an HTTP status code, got {value!r}")
    codes = []
    for item in items:
        try:
            if isinstance(item, bool):
                raise ValueError
            code = int(str(item).strip()) if isinstance(item, str) else int(item)
            if code != item and not isinstance(item, str):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"expected HTTP status codes, got {value!r}") from None
        if not 100 <= code <= 599:
            raise ValueError(f"expected HTTP status codes (100-599), got {value!r}")
        codes.append(code)
    if not codes:
        raise ValueError(f"expected at least one HTTP status code, got {value!r}")
    return tuple(codes)


class HTTPCheck(Check):
    """``GET`` a URL and compare the answer's status code.

    :param url: an ``http`` or ``https`` URL. Credentials in it
        (``https://user:password@host/``) are sent as HTTP Basic
        authentication, never to another host after a redirect.
    :param timeout: seconds to connect, and for the whole answer (status
        line and headers); name resolution is not covered.
    :param expect_status: the status code meaning :data:`OK`, or several.
    :param follow_redirects: follow redirects (to ``http``/``https`` URLs
        only); when false, a redirect's own status is compared.
    :param ssl_context: an :class:`ssl.SSLContext` for ``https``.

    The response body is not read. Proxies come from the environment
    (``https_proxy``, ``no_proxy``), as for any :mod:`urllib` client.
    """

    OPTIONS = ("url", "request_timeout", "expect_status", "follow_redirects")

    def __init__(
        self,
        url: str,
        timeout: float = 5,
        expect_status: Union[int, Collection[int]] = 200,
        follow_redirects: bool = True,
        ssl_context: Any = None,
    ) -> None:
        split = urllib.parse.urlsplit(url)
        password = split.password or ""
        self.secrets = tuple(secret_forms(password) + secret_forms(urllib.parse.unquote(password)))
        if split.scheme.lower() not in ("http", "https") or not split.hostname:
            raise ValueError(
                redact(f"expected an http or https URL with a host, got {url!r}", self.secrets)
            )
        self._auth: Optional[str] = None
        if split.username is not None or split.password is not None:
            user = urllib.parse.unquote(split.username or "")
            token = base64.b64encode(f"{user}:{urllib.parse.unquote(password)}".encode())
            self._auth = "Basic " + token.decode("ascii")
            host = split.hostname
            netloc = host if ":" not in host else f"[{host}]"
            if split.port is not None:
                netloc += f":{split.port}"
            split = split._replace(netloc=netloc)
        #: The URL without credentials.
        self.url = urllib.parse.urlunsplit(split)
        self.timeout = seconds(timeout, "timeout")
        self.expect_status = _expected_statuses(expect_status)
        self.follow_redirects = bool(follow_redirects)
        handlers: List[Any] = [_Redirects(self.follow_redirects), _HTTPHandler()]
        if hasattr(urllib.request, "HTTPSHandler"):
            handlers.append(_HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)

    def _request(self) -> urllib.request.Request:
        request = urllib.request.Request(
            self.url, headers={"User-Agent": "lovely.ws.status HTTPCheck", "Accept": "*/*"}
        )
        if self._auth:
            # Unredirected: a redirect elsewhere must not carry the password.
            request.add_unredirected_header("Authorization", self._auth)
        return request

    def check(self) -> Dict[str, Any]:
        start = time.perf_counter()
        deadline = _Deadline(self.timeout)
        previous = getattr(_DEADLINE, "current", None)
        _DEADLINE.current = deadline
        deadline.start()
        try:
            try:
                response = self._opener.open(self._request(), timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                status, reason = exc.code, exc.reason
                exc.close()
            except Exception as exc:
                if deadline.expired and not _is_timeout(exc):
                    # The connection was shut down under a slow answer.
                    raise TimeoutError(f"no complete answer within {self.timeout:g} s") from None
                raise
            else:
                status, reason = response.status, response.reason
                response.close()
        finally:
            _DEADLINE.current = previous
            deadline.close()
        elapsed = time.perf_counter() - start
        text = f"HTTP {status} {reason}".rstrip()
        if status in self.expect_status:
            return {"state": OK, "detail": f"{text} in {format_ms(elapsed)}"}
        expected = " or ".join(str(code) for code in self.expect_status)
        return {"state": RED, "detail": f"{text}, expected {expected}"}

    def describe_error(self, exc: Exception) -> str:
        if isinstance(exc, urllib.error.URLError) and not isinstance(exc, RedirectRefused):
            reason = exc.reason
            if isinstance(reason, BaseException):
                return describe_exception(reason)
            return f"{type(exc).__name__}: {reason}"
        return describe_exception(exc)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], options: Mapping[str, Any]) -> HTTPCheck:
        """Options: ``url`` (required), ``request_timeout`` (``5``),
        ``expect_status`` (``200``; several separated by spaces or commas),
        ``follow_redirects`` (``true``).

        The option ``timeout`` of every handler is the deadline of the status
        views, so the HTTP timeout is called ``request_timeout`` here.
        """
        check_options(cls, options, cls.OPTIONS)
        url = option_text(options, "url")
        if not url:
            raise ValueError("the option 'url' is required")
        timeout = option_seconds(options, "request_timeout", 5.0)
        try:
            statuses = _expected_statuses(options.get("expect_status", 200))
        except ValueError as exc:
            raise ValueError(f"option 'expect_status': {exc}") from None
        follow = option_bool(options, "follow_redirects", True)
        try:
            return cls(url, timeout=timeout, expect_status=statuses, follow_redirects=follow)
        except ValueError as exc:
            raise ValueError(f"option 'url': {exc}") from None
