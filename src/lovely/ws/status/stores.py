"""Where the text of ``/probe_status`` lives.

Three stores, chosen by the setting ``probestatus.store`` (or by
:func:`store_from_url` in scripts such as ``pprobe``):

``memory``
    One text per process, as in lovely-ws-status 1.0: the module global
    :data:`lovely.ws.status.probestatus.RESPONSE_BODY`, behind
    :class:`lovely.ws.status.probestatus.MemoryStore`.
``file:///absolute/path``
    A small file shared by every process on the host. Written atomically
    (a temporary file in the same directory, then :func:`os.replace`), read
    again only when its ``stat()`` changes (and on each read during the 2 s
    after a change, which a coarse mtime clock could hide). A missing file
    means ``OK``.
``redis://host:port/db`` (also ``rediss://`` and ``unix://``)
    A Redis key shared by every host. ``redis`` is imported only when such a
    store is made; an unreachable server raises :class:`StoreUnavailable`.

Every store has ``get() -> str`` and ``set(text) -> None``. ``set`` refuses
texts that :func:`check_text` rejects, so a shared store never holds
something a load balancer cannot read back.

While this process drains before shutdown (see :mod:`lovely.ws.status.drain`)
every store's ``get()`` answers the drain text instead of the stored one: a
drain concerns this process alone, so it never writes to a shared store
(that would take every worker and host sharing it out of rotation, and keep
them out after a restart).
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

__all__ = [
    "OK",
    "MAX_TEXT_LENGTH",
    "DEFAULT_REDIS_KEY",
    "DEFAULT_REDIS_TIMEOUT",
    "StoreUnavailable",
    "FileStore",
    "RedisStore",
    "check_text",
    "parse_store_url",
    "store_from_url",
    "start_draining",
    "stop_draining",
    "draining_text",
]

OK = "OK"
#: The longest probe text accepted, in characters.
MAX_TEXT_LENGTH = 1024
#: The Redis key of the probe text when the URL names none (``?key=...``).
DEFAULT_REDIS_KEY = "lovely.ws.status:probe"
#: Seconds a Redis connect or command may take before the probe gives up.
DEFAULT_REDIS_TIMEOUT = 0.5

# Unicode category Cc: C0 controls, DEL and C1 controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class StoreUnavailable(Exception):  # noqa: N818 - the name is public API
    """The store of the probe text cannot be reached (for example Redis is down)."""


# The text this process answers while it drains; None while it does not.
# Kept in a one-element list so that every store reads it without a global
# statement and tests can reset it through stop_draining().
_DRAINING: list[Optional[str]] = [None]


def start_draining(text: str) -> None:
    """Make every store of this process answer ``text`` from now on."""
    problem = check_text(text)
    if problem is not None:
        raise ValueError(problem)
    if text == OK:
        raise ValueError("the drain text must not be 'OK'")
    _DRAINING[0] = text


def stop_draining() -> None:
    """Undo :func:`start_draining` (for tests and for a cancelled shutdown)."""
    _DRAINING[0] = None


def draining_text() -> Optional[str]:
    """The drain text while this process drains, else ``None``."""
    return _DRAINING[0]


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


def _checked(text: Any) -> str:
    problem = check_text(text)
    if problem is not None:
        raise ValueError(problem)
    return text


#: Coarsest modification-time granularity the file store allows for (FAT's
#: 2 s; HFS+, ext3 and some NFS and FUSE mounts have 1 s, Linux's own
#: clock a jiffy).
_RACY_NS = 2_000_000_000


class FileStore:
    """The probe text in a file, shared by every process on the host.

    :param path: absolute path of the file; its directory must exist.
    """

    def __init__(self, path: str) -> None:
        if not os.path.isabs(path):
            raise ValueError(f"the probe file must be an absolute path, not {path!r}")
        if "\x00" in path:
            raise ValueError(f"the path of the probe file contains a NUL byte: {path!r}")
        self.path = path
        self.url = "file://" + path
        # (stat key, text) of the last read: a GET costs one os.stat() while
        # the file does not change.
        self._cache: Optional[Tuple[Tuple[int, int, int], str]] = None

    def _failed(self, action: str, exc: OSError) -> StoreUnavailable:
        return StoreUnavailable(f"cannot {action} the probe file {self.path}: {exc}")

    def get(self) -> str:
        draining = _DRAINING[0]
        if draining is not None:
            return draining
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return OK
        except OSError as exc:
            raise self._failed("read", exc) from exc
        # The inode changes on every os.replace(), so two writes within one
        # tick of a coarse mtime clock are still told apart.
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(self.path, "rb") as f:
                data = f.read(4 * MAX_TEXT_LENGTH + 2)
        except FileNotFoundError:
            return OK
        except OSError as exc:
            raise self._failed("read", exc) from exc
        # Operators may write the file by hand (echo OFF > file): forgive the
        # trailing newline.
        text = data.decode("utf-8", "replace").rstrip("\r\n")
        # A file changed within the last tick of a coarse clock can change
        # again in place (echo NO > file) keeping its inode, size and mtime:
        # trust the cache only once the mtime is safely in the past, so the
        # file is read again on each GET for at most _RACY_NS after a change.
        if time.time_ns() - st.st_mtime_ns > _RACY_NS:
            self._cache = (key, text)
        else:
            self._cache = None
        return text

    def set(self, text: str) -> None:
        data = _checked(text).encode("utf-8")
        directory, name = os.path.split(self.path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise self._failed("write", exc) from exc
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp makes the file private; workers may run as another user
            # than the operator who switches the probe.
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._failed("write", exc) from exc
        self._cache = None

    def __repr__(self) -> str:
        return f"<FileStore {self.path!r}>"


class RedisStore:
    """The probe text in one Redis key, shared by every host.

    Missing key means ``OK``; setting ``OK`` deletes the key. Connection
    problems raise :class:`StoreUnavailable` quickly (short socket timeouts,
    one immediate retry so that a restarted server is reconnected at once).

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL as redis-py
        understands it, without this package's own parameters.
    :param key: the Redis key of the probe text.
    :param timeout: seconds for connecting and for each command, unless the
        URL sets ``socket_timeout`` or ``socket_connect_timeout``.
    """

    def __init__(
        self,
        url: str,
        key: str = DEFAULT_REDIS_KEY,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        client: Any = None,
    ) -> None:
        self.key = key
        self.url = url
        self._lock = threading.Lock()
        if client is None:
            client = _redis_client(url, timeout)
        self._client = client
        # Whatever the client raises means "cannot reach the store": besides
        # RedisError and OSError, a host name that IDNA cannot encode makes
        # socket.getaddrinfo() raise UnicodeError, for example.
        self._errors: Tuple[type, ...] = (Exception,)

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        where = _safe_url(self.url)
        return StoreUnavailable(f"Redis at {where} cannot be reached: {exc}")

    def get(self) -> str:
        draining = _DRAINING[0]
        if draining is not None:
            return draining
        try:
            value = self._client.get(self.key)
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        if value is None:
            return OK
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)

    def set(self, text: str) -> None:
        data = _checked(text).encode("utf-8")
        try:
            if text == OK:
                self._client.delete(self.key)
            else:
                self._client.set(self.key, data)
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        """Close the connections of the pool (the store stays usable)."""
        self._client.connection_pool.disconnect()

    def __repr__(self) -> str:
        return f"<RedisStore {_safe_url(self.url)!r} key={self.key!r}>"


def _redis_client(url: str, timeout: float) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: Dict[str, Any] = {
        # One immediate retry: a pooled connection broken by a Redis restart
        # is replaced at once, while a server that is down fails fast instead
        # of redis-py's default backoff of several seconds.
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
        ],
    }
    query = dict(parse_qsl(urlsplit(url).query))
    if "socket_timeout" not in query and "timeout" not in query:
        options["socket_timeout"] = timeout
    if "socket_connect_timeout" not in query:
        options["socket_connect_timeout"] = timeout
    return redis.Redis.from_url(url, **options)


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def _safe_url(url: str) -> str:
    """``url`` without its password, for logs and error messages.

    Works on the text, so that URLs which do not parse (the ones error
    messages are about) and IPv6 hosts keep their shape.
    """
    text = str(url)
    start = text.find("://")
    if start < 0:
        return text
    start += 3
    end = len(text)
    for mark in "?#":
        found = text.find(mark, start)
        if found != -1:
            end = min(end, found)
    # The last "@" before the query: a password may hold a raw "/" or "@".
    at = text.rfind("@", start, end)
    if at != -1:
        userinfo = text[start:at]
        user, colon, _ = userinfo.partition(":")
        if colon:
            text = f"{text[:start]}{user}:***{text[at:]}"
    return _QUERY_PASSWORD.sub(r"\1***", text)


class _Spec:
    __slots__ = ("kind", "path", "url", "key", "timeout")

    def __init__(
        self,
        kind: str,
        path: str = "",
        url: str = "",
        key: str = DEFAULT_REDIS_KEY,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        self.kind = kind
        self.path = path
        self.url = url
        self.key = key
        self.timeout = timeout


_OWN_REDIS_PARAMETERS = ("key", "timeout")


def parse_store_url(value: Any) -> Any:
    """Check a store URL without touching the backend; :class:`ValueError` if bad.

    Accepted: ``memory`` (also ``memory://`` or empty), ``file:///absolute/path``
    (the directory must exist) and ``redis://host:port/db`` (also
    ``rediss://`` and ``unix:///path/to/socket``) with the optional query
    parameters ``key`` (the Redis key, default :data:`DEFAULT_REDIS_KEY`),
    ``timeout`` (seconds, default :data:`DEFAULT_REDIS_TIMEOUT`) and any
    connection parameter redis-py accepts in a URL.
    """
    if value is None:
        return _Spec("memory")
    if not isinstance(value, str):
        raise ValueError(f"expected a store URL, got {value!r}")
    text = value.strip()
    if text in ("", "memory", "memory:", "memory://"):
        return _Spec("memory")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _parse_file(text, parts)
    if scheme in ("redis", "rediss", "unix"):
        return _parse_redis(text, parts)
    hint = ""
    if text.startswith("/"):
        hint = f" (for a file, write file://{text})"
    raise ValueError(
        f"{_safe_url(text)!r} is not a probe store: expected 'memory', "
        f"'file:///absolute/path' or 'redis://host:port/db'{hint}"
    )


def _parse_file(text: str, parts: Any) -> _Spec:
    if parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"{text!r}: a file URL needs three slashes and an absolute path "
            f"(file:///var/run/app/probe), not the host {parts.netloc!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r}: a file URL takes no query or fragment")
    path = unquote(parts.path)
    if "\x00" in path:
        # The directory check below would pass, then every os.stat() of the
        # store would raise ValueError: a 500 on each request.
        raise ValueError(f"{text!r}: the path contains a NUL byte (%00)")
    if not path.startswith("/") or path.endswith("/"):
        raise ValueError(f"{text!r}: expected file:///absolute/path/of/the/file")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ValueError(f"{text!r}: the directory {directory} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{text!r}: {path} is a directory, not a file")
    return _Spec("file", path=path)


def _parse_redis(text: str, parts: Any) -> _Spec:
    # Messages show the URL without its password: they reach logs and the
    # output of the console scripts.
    shown = _safe_url(text)
    try:
        from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url
    except ImportError:
        raise ValueError(
            f"{shown!r}: the Redis store needs redis-py "
            "(pip install 'lovely-ws-status[redis]')"
        ) from None
    try:
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        # redis-py takes port 0 for "no port" and connects to 6379.
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"{shown!r}: the Redis URL names no host")
    if parts.scheme != "unix" and parts.path.strip("/"):
        if not parts.path.strip("/").isdigit():
            raise ValueError(f"{shown!r}: the database must be a number, as in redis://host:6379/0")
    key = DEFAULT_REDIS_KEY
    timeout = DEFAULT_REDIS_TIMEOUT
    rest = []
    for name, val in parse_qsl(parts.query, keep_blank_values=True):
        if name == "key":
            if not val:
                raise ValueError(f"{shown!r}: the key must not be empty")
            key = val
        elif name == "timeout":
            try:
                timeout = float(val)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout < float("inf"):
                raise ValueError(f"{shown!r}: timeout must be a positive number")
        elif name in URL_QUERY_ARGUMENT_PARSERS:
            rest.append((name, val))
        else:
            known = set(_OWN_REDIS_PARAMETERS) | set(URL_QUERY_ARGUMENT_PARSERS)
            raise ValueError(
                f"{shown!r}: unknown parameter {name!r}; known: "
                + ", ".join(sorted(known))
            )
    # Rebuilt by hand: urlunsplit() turns unix:///path into unix:/path.
    url = text.split("#", 1)[0].split("?", 1)[0]
    if rest:
        url += "?" + urlencode(rest)
    try:
        parse_url(url)
    except ValueError as exc:
        raise ValueError(f"{shown!r}: {exc}") from None
    return _Spec("redis", url=url, key=key, timeout=timeout)


def store_from_url(url: Optional[str]) -> Any:
    """A store for ``url`` (see :func:`parse_store_url`); :class:`ValueError` if bad.

    >>> store_from_url('memory')
    <MemoryStore>
    >>> store_from_url('file:///tmp/probe')
    <FileStore '/tmp/probe'>
    """
    spec = parse_store_url(url)
    if spec.kind == "file":
        return FileStore(spec.path)
    if spec.kind == "redis":
        return RedisStore(spec.url, key=spec.key, timeout=spec.timeout)
    from .probestatus import MEMORY_STORE

    return MEMORY_STORE
