"""The one way this package makes a Redis client (probe store, check).

``redis`` is imported only when a client is made: it is an optional extra.
"""
from __future__ import annotations

from typing import Any, Dict, List
from urllib.parse import parse_qsl, urlsplit

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
