"""The one way this package reads a Redis URL and makes a Redis client
(probe store, result share, check).

``redis`` is imported only when a client is made: it is an optional extra.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from .text import redact_url

__all__: List[str] = []


def redis_client(url: str, timeout: float) -> Any:
    """A ``redis.Redis`` for ``url`` that answers or fails within ``timeout``.

    Connecting and each command may take ``timeout`` seconds, unless the URL
    sets ``socket_timeout`` or ``socket_connect_timeout`` itself. A broken
    pooled connection (the server restarted) is replaced by one immediate
    retry; a timeout is never retried, so a frozen server costs one
    timeout, not two, and redis-py's default backoff of several seconds
    never applies.
    """
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as exc:
        raise ImportError(
            f"Redis needs redis-py: pip install 'lovely-ws-status[redis]' ({exc})"
        ) from exc
    options: Dict[str, Any] = {
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
    }
    query = dict(parse_qsl(urlsplit(url).query))
    if "socket_timeout" not in query and "timeout" not in query:
        options["socket_timeout"] = timeout
    if "socket_connect_timeout" not in query:
        options["socket_connect_timeout"] = timeout
    return redis.Redis.from_url(url, **options)


#: The query parameters of :func:`parse_redis_url`'s URLs that are this
#: package's, not redis-py's.
OWN_PARAMETERS = ("key", "timeout")


def parse_redis_url(text: str, key: str, timeout: float) -> Tuple[str, str, float]:
    """Check a ``redis://``, ``rediss://`` or ``unix://`` URL without
    connecting; :class:`ValueError` if bad.

    Returns the URL for redis-py, and the values of this package's query
    parameters ``key`` and ``timeout`` (seconds), or the defaults given.
    Any other parameter must be one redis-py takes.
    """
    # Messages show the URL without its password: they reach logs and the
    # output of the console scripts.
    shown = redact_url(text)
    try:
        from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url
    except ImportError:
        raise ValueError(
            f"{shown!r}: Redis needs redis-py (pip install 'lovely-ws-status[redis]')"
        ) from None
    parts = urlsplit(text)
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
            known = set(OWN_PARAMETERS) | set(URL_QUERY_ARGUMENT_PARSERS)
            raise ValueError(
                f"{shown!r}: unknown parameter {name!r}; known: "
                + ", ".join(sorted(known))
            )
    # Rebuilt by hand: urlunsplit() turns unix:///path into unix:/path.
    url = text.split("#", 1)[0].split("?", 1)[0]
    if rest:
        url += "?" + urlencode(rest)
    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ValueError(f"{shown!r}: {exc}") from None
    return url, key, timeout
