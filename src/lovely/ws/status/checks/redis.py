"""A check on a Redis server: :class:`RedisCheck` sends ``PING``.

redis-py is an optional extra, imported when a check makes its client.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any, Dict, List, Mapping

from ..redisclient import redis_client
from ..settings import seconds
from ..states import OK, RED
from ..text import describe_exception, redact, secret_forms
from .base import Check, check_options, format_ms, option_seconds, option_text

__all__: List[str] = ["RedisCheck"]


class RedisCheck(Check):
    """``PING`` a Redis server.

    :param client_or_url: a :class:`redis.Redis` client (used as it is, with
        its own timeouts and retries), or a ``redis://``, ``rediss://`` or
        ``unix://`` URL for a client of the check's own, made by
        :func:`~lovely.ws.status.redisclient.redis_client`: ``socket_timeout``
        seconds to connect and to answer, no retry after a timeout.

    :data:`OK` with the round-trip time, :data:`RED` with the error.
    """

    OPTIONS = ("url", "socket_timeout")

    def __init__(self, client_or_url: Any, socket_timeout: float = 3.0) -> None:
        self.socket_timeout = seconds(socket_timeout, "socket_timeout")
        secrets: List[str] = []
        if isinstance(client_or_url, str):
            self.client = redis_client(client_or_url, self.socket_timeout)
            self.owns_client = True
            password = urllib.parse.urlsplit(client_or_url).password
            secrets += secret_forms(password)
            secrets += secret_forms(urllib.parse.unquote(password or ""))
        else:
            self.client = client_or_url
            self.owns_client = False
        pool = getattr(self.client, "connection_pool", None)
        kwargs = getattr(pool, "connection_kwargs", None) or {}
        password = kwargs.get("password")
        if isinstance(password, str):
            secrets += secret_forms(password)
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def check(self) -> Dict[str, Any]:
        start = time.perf_counter()
        answer = self.client.ping()
        elapsed = time.perf_counter() - start
        if answer is not True and answer not in (b"PONG", "PONG"):
            return {"state": RED, "detail": f"PING answered {answer!r}"}
        return {"state": OK, "detail": f"PING: round trip {format_ms(elapsed)}"}

    def close(self) -> None:
        """Close the client if the check made it."""
        if self.owns_client:
            self.client.close()

    def __repr__(self) -> str:
        return redact(f"<{type(self).__name__} {self.client!r}>", self.secrets)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], options: Mapping[str, Any]) -> RedisCheck:
        """Options: ``url`` (default: the ``redis.url`` setting), ``socket_timeout``."""
        check_options(cls, options, cls.OPTIONS)
        timeout = option_seconds(options, "socket_timeout", 3.0)
        url = option_text(options, "url") or option_text(settings, "redis.url")
        if not url:
            raise ValueError("no Redis URL: set the option 'url' or the setting 'redis.url'")
        try:
            return cls(url, socket_timeout=timeout)
        except Exception as exc:
            raise ValueError(redact(f"option 'url': {describe_exception(exc)}")) from None
