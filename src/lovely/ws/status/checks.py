"""Ready-made status handlers for the backends Pyramid applications use.

Every class here makes status handlers: an instance is a callable without
arguments returning ``{'state': ..., 'detail': ...}``, so it can be given to
:func:`lovely.ws.status.addStatusHandler`, to ``config.add_status_handler``,
or named in the ``svcstatus.handlers`` setting (each class has a
``from_settings`` class method for that).

A check never raises: whatever goes wrong while it runs is reported as
:data:`~lovely.ws.status.RED` with ``"<ExceptionClass>: <message>"``. Details
are one line (the CSV output is line based), and passwords of the URLs a
check was given are replaced by ``***`` wherever they would appear.

The optional dependencies (SQLAlchemy, Alembic, redis) are imported only when
a check that needs them is created.
"""

from __future__ import annotations

import base64
import difflib
import http.client
import importlib
import math
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import (
    Any,
    Collection,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import OK, RED, YELLOW

__all__ = [
    "Check",
    "DatabaseCheck",
    "MigrationsCheck",
    "RedisCheck",
    "DiskSpaceCheck",
    "HTTPCheck",
    "RedirectRefused",
    "create_check_engine",
    "parse_size",
    "parse_threshold",
]

#: Longest detail a check returns; driver messages can be pages long.
MAX_DETAIL = 500

_HIDDEN = "***"


# ------------------------------------------------------------------ helpers


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this check needs {module.split('.')[0]}: "
            f"pip install 'lovely-ws-status[{extra}]' ({exc})"
        ) from exc


def _secret_forms(secret: Optional[str]) -> List[str]:
    """``secret`` as it may appear in a message: raw and URL-quoted."""
    if not secret:
        return []
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
    }
    # Longest first, so a quoted form is not half replaced by a shorter one.
    return sorted(forms, key=len, reverse=True)


_URL_PASSWORD = re.compile(r"://[^/@:\s]*:([^@\s]*)@")


def _passwords_in(text: str) -> List[str]:
    """Passwords of ``scheme://user:password@host`` URLs found in ``text``."""
    found: List[str] = []
    for match in _URL_PASSWORD.finditer(text):
        password = match.group(1)
        if password:
            found.extend(_secret_forms(password))
            found.extend(_secret_forms(urllib.parse.unquote(password)))
    return found


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, without ``secrets`` nor URL passwords, shortened."""
    for secret in sorted(
        set(secrets) | set(_passwords_in(text)), key=len, reverse=True
    ):
        if secret:
            text = text.replace(secret, _HIDDEN)
    text = " ".join(text.split())
    if len(text) > MAX_DETAIL:
        text = text[: MAX_DETAIL - 1] + "\u2026"
    return text


def describe_exception(exc: BaseException) -> str:
    """``"<ExceptionClass>: <message>"``, or the class alone without a message."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break the check
        message = ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _format_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------- settings options


def _check_options(cls: type, options: Mapping[str, Any], known: Sequence[str]) -> None:
    for key in sorted(options):
        if key not in known:
            message = f"unknown option {key!r} for {cls.__name__}"
            hint = difflib.get_close_matches(key, known, n=1)
            if hint:
                message += f" (did you mean {hint[0]!r}?)"
            valid = ", ".join(known) if known else "none"
            raise ValueError(f"{message}; valid options are: {valid}")


def _option_text(options: Mapping[str, Any], key: str) -> Optional[str]:
    value = options.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _option_seconds(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return _positive_seconds(key, value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"option {key!r}: {exc}") from None


def _positive_seconds(what: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a positive number of seconds, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected a positive number of seconds, got {value!r}"
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"expected a positive number of seconds, got {value!r}")
    return number


def _option_bool(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"option {key!r}: expected true or false, got {value!r}")


def _resolve_path(spec: str) -> str:
    """A file system path, or a Pyramid asset spec ``package:path``."""
    if os.path.isabs(spec) or ":" not in spec:
        return os.path.abspath(spec)
    from pyramid.path import AssetResolver

    return AssetResolver(None).resolve(spec).abspath()


# ------------------------------------------------------------------- base


class Check:
    """Base class of the checks: an instance is a status handler.

    Subclasses implement :meth:`check`; calling the instance runs it and
    turns any exception into :data:`~lovely.ws.status.RED`. Secrets listed
    in :attr:`secrets` never appear in the detail.
    """

    #: Strings (passwords) removed from every detail of this check.
    secrets: Tuple[str, ...] = ()

    def __call__(self) -> Dict[str, Any]:
        try:
            status = self.check()
        except Exception as exc:
            status = {"state": RED, "detail": self.describe_error(exc)}
        detail = status.get("detail")
        if isinstance(detail, str):
            status["detail"] = scrub(detail, self.secrets)
        return status

    def check(self) -> Dict[str, Any]:
        """Run the check and return the status dict (exceptions mean RED)."""
        raise NotImplementedError

    def describe_error(self, exc: Exception) -> str:
        """The detail for an exception raised by :meth:`check`."""
        return describe_exception(exc)

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> Check:
        """Make a check from the app's ``settings`` and the handler's ``options``.

        Called for ``svcstatus.handlers``; ``options`` are the keys
        ``svcstatus.handler.<name>.<option>``. Raises :class:`ValueError`
        naming the option on an unknown option or a bad value. This default
        takes no options and calls the class without arguments.
        """
        _check_options(cls, options, ())
        return cls()


# ------------------------------------------------------------- SQLAlchemy

#: Connect-timeout argument of each DBAPI driver SQLAlchemy knows by name.
_CONNECT_TIMEOUT_ARGS = {
    "psycopg": "connect_timeout",
    "psycopg2": "connect_timeout",
    "psycopg2cffi": "connect_timeout",
    "pg8000": "timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mariadbconnector": "connect_timeout",
    "mysqlconnector": "connection_timeout",
    "pysqlite": "timeout",
    "pysqlcipher": "timeout",
}


def _url_of(value: Any) -> Any:
    _require("sqlalchemy", "sqlalchemy")
    from sqlalchemy.engine import make_url

    return make_url(value)


#: Query parameters of a database URL that carry a password (libpq takes
#: ``?password=``, the MySQL drivers ``password`` or ``passwd``).
_PASSWORD_PARAMETERS = ("password", "passwd", "pwd")


def _url_secrets(url: Any) -> Tuple[str, ...]:
    secrets = _secret_forms(url.password)
    query = getattr(url, "query", None) or {}
    for key, value in query.items():
        if str(key).lower() in _PASSWORD_PARAMETERS:
            for item in value if isinstance(value, (tuple, list)) else (value,):
                secrets.extend(_secret_forms(str(item)))
    return tuple(sorted(set(secrets), key=len, reverse=True))


def create_check_engine(url: Any, connect_timeout: float = 3.0) -> Any:
    """An engine for health checks: ``pool_pre_ping`` and a short connect timeout.

    The timeout is passed to the drivers that are known to take one, unless
    the URL sets it already.
    """
    sqlalchemy = _require("sqlalchemy", "sqlalchemy")
    url = _url_of(url)
    connect_args: Dict[str, Any] = {}
    name = _CONNECT_TIMEOUT_ARGS.get(url.get_driver_name())
    if name and name not in url.query:
        if name in ("connect_timeout", "connection_timeout"):
            # libpq and the MySQL drivers take whole seconds.
            connect_args[name] = max(1, math.ceil(connect_timeout))
        else:
            connect_args[name] = connect_timeout
    return sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _engine_of(engine: Any, connect_timeout: float) -> Tuple[Any, bool]:
    """``(engine, created_here)`` from an engine, a URL or a URL string."""
    if hasattr(engine, "connect") and hasattr(engine, "url"):
        return engine, False
    return create_check_engine(engine, connect_timeout), True


def _describe_db_error(exc: BaseException) -> str:
    # SQLAlchemy wraps the driver's exception, and its own message adds the
    # SQL and a documentation link; the driver's says what went wrong.
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        return describe_exception(orig)
    return describe_exception(exc)


def _url_from_settings(
    settings: Mapping[str, Any], options: Mapping[str, Any]
) -> Tuple[Optional[str], str]:
    """``(url, where it came from)`` from the ``url`` option or the settings."""
    url = _option_text(options, "url")
    if url:
        return url, "option 'url'"
    prefix = _option_text(options, "engine_prefix") or "sqlalchemy."
    url = _option_text(settings, prefix + "url")
    return url, f"setting {prefix + 'url'!r}"


def _engine_from_url(url: str, where: str, connect_timeout: float) -> Any:
    try:
        return create_check_engine(url, connect_timeout)
    except Exception as exc:
        # A bad URL or a missing driver: a configuration error, reported
        # without the password (the URL may be in the message).
        raise ValueError(
            scrub(f"{where}: cannot make an engine: {describe_exception(exc)}")
        ) from None


class _EngineCheck(Check):
    """What the checks on a SQLAlchemy engine share."""

    engine: Any
    owns_engine: bool
    secrets: Any

    def describe_error(self, exc: Exception) -> str:
        return _describe_db_error(exc)

    def close(self) -> None:
        """Dispose of the engine if the check made it."""
        if self.owns_engine:
            self.engine.dispose()

    def _repr(self, what: Any) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return scrub(f"<{type(self).__name__} {url} {what}>", self.secrets)


class DatabaseCheck(_EngineCheck):
    """Run a trivial query on a SQLAlchemy engine.

    :param engine: a SQLAlchemy :class:`~sqlalchemy.engine.Engine` (the
        app's own, so the check sees what the app sees), or a database URL
        for an engine of the check's own (with ``pool_pre_ping`` and a
        connect timeout of ``connect_timeout`` seconds).
    :param query: the SQL to run.

    :data:`OK` with the round-trip time of the query, :data:`RED` with the
    driver's error when the database cannot be reached.
    """

    def __init__(
        self, engine: Any, query: str = "SELECT 1", connect_timeout: float = 3.0
    ) -> None:
        self.connect_timeout = _positive_seconds("connect_timeout", connect_timeout)
        self.engine, self.owns_engine = _engine_of(engine, self.connect_timeout)
        self.query = query
        self.secrets = _url_secrets(self.engine.url)
        from sqlalchemy import text

        self._statement = text(query)

    def check(self) -> Dict[str, Any]:
        with self.engine.connect() as connection:
            start = time.perf_counter()
            connection.execute(self._statement).fetchall()
            elapsed = time.perf_counter() - start
        return {
            "state": OK,
            "detail": f"{self.query}: round trip {_format_ms(elapsed)}",
        }

    def __repr__(self) -> str:
        return self._repr(repr(self.query))

    OPTIONS = ("url", "engine_prefix", "query", "connect_timeout")

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> DatabaseCheck:
        """Options: ``url`` (default: the ``sqlalchemy.url`` setting),
        ``engine_prefix`` (``sqlalchemy.``), ``query``, ``connect_timeout``."""
        _check_options(cls, options, cls.OPTIONS)
        timeout = _option_seconds(options, "connect_timeout", 3.0)
        url, where = _url_from_settings(settings, options)
        if not url:
            raise ValueError(f"no database URL: set the option 'url' or the {where}")
        engine = _engine_from_url(url, where, timeout)
        check = cls(
            engine,
            query=_option_text(options, "query") or "SELECT 1",
            connect_timeout=timeout,
        )
        check.owns_engine = True
        return check


# ---------------------------------------------------------------- Alembic


def _alembic_config(value: Any) -> Any:
    _require("alembic", "alembic")
    from alembic.config import Config

    if isinstance(value, Config):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"alembic_config must be an alembic Config or a path, not {value!r}"
        )
    path = _resolve_path(os.fspath(value))
    if os.path.isdir(path):
        config = Config()
        config.set_main_option("script_location", path.replace("%", "%%"))
        return config
    if os.path.isfile(path):
        return Config(path)
    raise ValueError(
        f"{os.fspath(value)!r} is neither an alembic.ini file nor a directory"
    )


class MigrationsCheck(_EngineCheck):
    """Compare the database's Alembic revision with the head of the scripts.

    :param engine: an engine, or a database URL (see :class:`DatabaseCheck`).
    :param alembic_config: an :class:`alembic.config.Config`, the path of an
        ``alembic.ini``, or the path of the migration script directory
        (paths may be Pyramid asset specs, ``myapp:alembic.ini``).
    :param version_table: the table Alembic keeps the revision in, when
        ``env.py`` names another one.

    :data:`OK` at head, :data:`YELLOW` when the database is behind or
    elsewhere (detail: current and head revisions) or has no version table
    at all (not migrated yet), :data:`RED` when the check cannot run.
    """

    def __init__(
        self,
        engine: Any,
        alembic_config: Any,
        version_table: str = "alembic_version",
        version_table_schema: Optional[str] = None,
        connect_timeout: float = 3.0,
    ) -> None:
        self.connect_timeout = _positive_seconds("connect_timeout", connect_timeout)
        self.config = _alembic_config(alembic_config)
        from alembic.script import ScriptDirectory

        # Fails now when the script directory is missing; the revision
        # files themselves are read on the first check.
        self.script = ScriptDirectory.from_config(self.config)
        self.engine, self.owns_engine = _engine_of(engine, self.connect_timeout)
        self.version_table = version_table
        self.version_table_schema = version_table_schema
        self.secrets = _url_secrets(self.engine.url)
        self._heads: Optional[Tuple[str, ...]] = None
        self._lock = threading.Lock()

    def heads(self) -> Tuple[str, ...]:
        """The head revisions of the migration scripts (read once)."""
        if self._heads is None:
            with self._lock:
                if self._heads is None:
                    self._heads = tuple(sorted(self.script.get_heads()))
        return self._heads

    def _known(self, revision: str) -> bool:
        try:
            return self.script.get_revision(revision) is not None
        except Exception:
            return False

    def current(self) -> Optional[Tuple[str, ...]]:
        """The database's revisions; ``None`` when it has no version table."""
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy import inspect

        with self.engine.connect() as connection:
            if not inspect(connection).has_table(
                self.version_table, schema=self.version_table_schema
            ):
                return None
            context = MigrationContext.configure(
                connection,
                opts={
                    "version_table": self.version_table,
                    "version_table_schema": self.version_table_schema,
                },
            )
            return tuple(sorted(context.get_current_heads()))

    def check(self) -> Dict[str, Any]:
        heads = self.heads()
        current = self.current()
        head_text = ", ".join(heads) or "none"
        if current is None or not current:
            if not heads:
                return {"state": OK, "detail": "no migrations"}
            why = (
                f"no table {self.version_table}"
                if current is None
                else f"{self.version_table} is empty"
            )
            # Not migrated is not broken: a fresh database is waiting for
            # its first "alembic upgrade", so YELLOW rather than RED.
            return {
                "state": YELLOW,
                "detail": f"not migrated ({why}); head {head_text}",
            }
        if set(current) == set(heads):
            return {"state": OK, "detail": f"at head {head_text}"}
        parts = [
            rev if self._known(rev) else f"{rev} (not in the migration scripts)"
            for rev in current
        ]
        return {
            "state": YELLOW,
            "detail": f"current {', '.join(parts)}; head {head_text}",
        }

    def __repr__(self) -> str:
        return self._repr(self.script.dir)

    OPTIONS = (
        "url",
        "engine_prefix",
        "alembic_ini",
        "script_location",
        "version_table",
        "version_table_schema",
        "connect_timeout",
    )

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> MigrationsCheck:
        """Options: ``alembic_ini`` and/or ``script_location`` (one is needed),
        ``url`` (default: the ``sqlalchemy.url`` setting, then the
        ``sqlalchemy.url`` of the ``alembic.ini``), ``engine_prefix``,
        ``version_table``, ``version_table_schema``, ``connect_timeout``."""
        _check_options(cls, options, cls.OPTIONS)
        timeout = _option_seconds(options, "connect_timeout", 3.0)
        ini = _option_text(options, "alembic_ini")
        location = _option_text(options, "script_location")
        if not ini and not location:
            raise ValueError("set the option 'alembic_ini' or 'script_location'")
        try:
            _require("alembic", "alembic")
        except ImportError as exc:
            raise ValueError(str(exc)) from None
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        if ini:
            path = _resolve_path(ini)
            if not os.path.isfile(path):
                raise ValueError(f"option 'alembic_ini': no such file {path!r}")
            config = Config(path)
        else:
            config = Config()
        if location:
            config.set_main_option("script_location", location.replace("%", "%%"))
        try:
            ScriptDirectory.from_config(config)
        except Exception as exc:
            option = "script_location" if location else "alembic_ini"
            raise ValueError(f"option {option!r}: {describe_exception(exc)}") from None

        url, where = _url_from_settings(settings, options)
        if not url and ini:
            url = _option_text({"url": config.get_main_option("sqlalchemy.url")}, "url")
            where = f"sqlalchemy.url of {ini}"
        if not url:
            raise ValueError(f"no database URL: set the option 'url' or the {where}")
        engine = _engine_from_url(url, where, timeout)
        check = cls(
            engine,
            config,
            version_table=_option_text(options, "version_table") or "alembic_version",
            version_table_schema=_option_text(options, "version_table_schema"),
            connect_timeout=timeout,
        )
        check.owns_engine = True
        return check


# ------------------------------------------------------------------ Redis


class RedisCheck(Check):
    """``PING`` a Redis server.

    :param client_or_url: a :class:`redis.Redis` client (used with its own
        timeouts), or a ``redis://`` / ``rediss://`` / ``unix://`` URL for a
        client of the check's own, with ``socket_timeout`` seconds to connect
        and to answer, and no retries.

    :data:`OK` with the round-trip time, :data:`RED` with the error.
    """

    def __init__(self, client_or_url: Any, socket_timeout: float = 3.0) -> None:
        self.socket_timeout = _positive_seconds("socket_timeout", socket_timeout)
        if isinstance(client_or_url, str):
            redis = _require("redis", "redis")
            self.client = _redis_client(redis, client_or_url, self.socket_timeout)
            self.owns_client = True
            split = urllib.parse.urlsplit(client_or_url)
            secrets = _secret_forms(split.password)
            if split.password:
                secrets += _secret_forms(urllib.parse.unquote(split.password))
        else:
            self.client = client_or_url
            self.owns_client = False
            secrets = []
        pool = getattr(self.client, "connection_pool", None)
        kwargs = getattr(pool, "connection_kwargs", None) or {}
        password = kwargs.get("password")
        if isinstance(password, str):
            secrets += _secret_forms(password)
        self.secrets = tuple(secrets)

    def check(self) -> Dict[str, Any]:
        start = time.perf_counter()
        answer = self.client.ping()
        elapsed = time.perf_counter() - start
        if answer is not True and answer not in (b"PONG", "PONG"):
            return {"state": RED, "detail": f"PING answered {answer!r}"}
        return {"state": OK, "detail": f"PING: round trip {_format_ms(elapsed)}"}

    def close(self) -> None:
        """Close the client if the check made it."""
        if self.owns_client:
            self.client.close()

    def __repr__(self) -> str:
        return scrub(f"<{type(self).__name__} {self.client!r}>", self.secrets)

    OPTIONS = ("url", "socket_timeout")

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> RedisCheck:
        """Options: ``url`` (default: the ``redis.url`` setting), ``socket_timeout``."""
        _check_options(cls, options, cls.OPTIONS)
        timeout = _option_seconds(options, "socket_timeout", 3.0)
        url = _option_text(options, "url") or _option_text(settings, "redis.url")
        if not url:
            raise ValueError(
                "no Redis URL: set the option 'url' or the setting 'redis.url'"
            )
        try:
            return cls(url, socket_timeout=timeout)
        except Exception as exc:
            raise ValueError(
                scrub(f"option 'url': {describe_exception(exc)}")
            ) from None


def _redis_client(redis: Any, url: str, timeout: float) -> Any:
    kwargs: Dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    try:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One attempt: the check reports the server as it is now, within
        # the timeout, instead of backing off and retrying.
        kwargs["retry"] = Retry(NoBackoff(), 0)
    except ImportError:  # pragma: no cover - redis-py without retries
        pass
    return redis.Redis.from_url(url, **kwargs)


# ------------------------------------------------------------- disk space

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)$")

#: A threshold: ``('ratio', fraction)`` or ``('bytes', count)``.
Threshold = Tuple[str, float]


def parse_size(value: Union[str, int]) -> int:
    """Bytes from ``1048576``, ``'500MB'``, ``'2GiB'``, ``'1.5 TB'`` (1 kB = 1000 B,
    1 KiB = 1024 B)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size in bytes, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a size of at least 0 bytes, got {value!r}")
        return value
    match = _SIZE.match(str(value).strip())
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or unit is None:
        raise ValueError(f"expected a size like 1048576, 500MB or 2GiB, got {value!r}")
    return int(round(float(match.group(1)) * unit))


def parse_threshold(value: Union[str, int, float]) -> Threshold:
    """A free-space threshold: a fraction of the disk or a number of bytes.

    Floats below 1 and percentages (``'10%'``) are fractions; integers and
    sizes with a unit (``'500MB'``, ``'2GiB'``) are bytes. ``0`` disables it.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a fraction, a percentage or a size, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"expected a fraction from 0 to 1 or a size, got {value!r}"
            )
        if value < 1:
            return ("ratio", value)
        if value != int(value):
            raise ValueError(
                f"{value!r} is neither a fraction (below 1) nor a whole number of "
                "bytes; write a percentage as '10%'"
            )
        return ("bytes", int(value))
    if isinstance(value, int):
        return ("bytes", parse_size(value))
    text = value.strip()
    if text.endswith("%"):
        try:
            percent = float(text[:-1].strip())
        except ValueError:
            raise ValueError(
                f"expected a percentage like '10%', got {value!r}"
            ) from None
        if not 0 <= percent < 100:
            raise ValueError(
                f"expected a percentage from 0 to below 100, got {value!r}"
            )
        return ("ratio", percent / 100)
    match = _SIZE.match(text)
    if match and not match.group(2) and "." in match.group(1):
        number = float(match.group(1))
        if number < 1:
            return ("ratio", number)
    return ("bytes", parse_size(text))


def _format_threshold(threshold: Threshold) -> str:
    kind, amount = threshold
    if kind == "ratio":
        return f"{amount * 100:g}%"
    return _format_bytes(amount)


class DiskSpaceCheck(Check):
    """Free space on the file system holding ``path``.

    :param warn_below: :data:`YELLOW` when free space is below this.
    :param fail_below: :data:`RED` when free space is below this.

    A threshold is a fraction of the file system's size (a float below 1, or
    ``'10%'``) or a number of bytes (an int, or ``'500MB'``, ``'2GiB'``);
    ``0`` turns it off. Free space is what an unprivileged process may use.
    ``labels`` carry ``free_bytes`` and ``free_ratio`` for Prometheus.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        warn_below: Union[str, int, float] = 0.1,
        fail_below: Union[str, int, float] = 0.05,
    ) -> None:
        self.path = os.fspath(path)
        self.warn_below = self._threshold("warn_below", warn_below)
        self.fail_below = self._threshold("fail_below", fail_below)
        if (
            self.warn_below[0] == self.fail_below[0]
            and self.fail_below[1] > self.warn_below[1]
        ):
            raise ValueError(
                f"'fail_below' ({_format_threshold(self.fail_below)}) is above "
                f"'warn_below' ({_format_threshold(self.warn_below)})"
            )

    @staticmethod
    def _threshold(name: str, value: Any) -> Threshold:
        try:
            return parse_threshold(value)
        except ValueError as exc:
            raise ValueError(f"{name!r}: {exc}") from None

    def check(self) -> Dict[str, Any]:
        usage = shutil.disk_usage(self.path)
        free, total = usage.free, usage.total
        ratio = free / total if total else 0.0

        def below(threshold: Threshold) -> bool:
            kind, amount = threshold
            return (ratio if kind == "ratio" else free) < amount

        detail = f"{_format_bytes(free)} free of {_format_bytes(total)} ({ratio:.1%})"
        if below(self.fail_below):
            state = RED
            detail += f", below {_format_threshold(self.fail_below)}"
        elif below(self.warn_below):
            state = YELLOW
            detail += f", below {_format_threshold(self.warn_below)}"
        else:
            state = OK
        return {
            "state": state,
            "detail": detail,
            "labels": {"free_bytes": free, "free_ratio": round(ratio, 6)},
        }

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.path!r} warn_below="
            f"{_format_threshold(self.warn_below)} fail_below="
            f"{_format_threshold(self.fail_below)}>"
        )

    OPTIONS = ("path", "warn_below", "fail_below")

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> DiskSpaceCheck:
        """Options: ``path`` (default: the working directory at startup),
        ``warn_below`` (``10%``), ``fail_below`` (``5%``)."""
        _check_options(cls, options, cls.OPTIONS)
        path = os.path.abspath(_option_text(options, "path") or os.getcwd())
        if not os.path.exists(path):
            raise ValueError(f"option 'path': {path!r} does not exist")
        thresholds = {}
        for key in ("warn_below", "fail_below"):
            value = options.get(key)
            if isinstance(value, str):
                value = value.strip()
            if value is not None and value != "":
                thresholds[key] = value
        try:
            return cls(path, **thresholds)
        except ValueError as exc:
            raise ValueError(f"option {exc}") from None


# ------------------------------------------------------------------- HTTP


class RedirectRefused(urllib.error.URLError):
    """A redirect to a URL that is not ``http`` or ``https``, or not allowed."""

    def __str__(self) -> str:
        return str(self.reason)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only, or none at all."""

    def __init__(self, follow: bool) -> None:
        self.follow = follow

    def http_error_302(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any
    ) -> Any:
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


# The deadline of the HTTPCheck running in this thread, for the connections
# its opener makes (redirects and proxies included).
_DEADLINE = threading.local()


class _Deadline:
    """Shuts the connections of one check down when its time is up.

    A socket timeout bounds each read, not the answer: a server sending a
    byte now and then would hold the check for as long as it liked.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: List[socket.socket] = []
        # A little later than the socket timeout: a server that says nothing
        # at all is the socket timeout's to report ("timed out").
        self._timer = threading.Timer(seconds + max(0.05, seconds / 10), self.expire)
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


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    return isinstance(exc, (socket.timeout, TimeoutError))


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


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
    :param timeout: seconds to connect, and to wait for each read; a server
        that accepts and never answers is :data:`RED` after that long.
    :param expect_status: the status code meaning :data:`OK`, or several.
    :param follow_redirects: follow redirects (to ``http``/``https`` URLs
        only); when false, a redirect's own status is compared.
    :param ssl_context: an :class:`ssl.SSLContext` for ``https``.

    Only the standard library is used; the response body is not read.
    Proxies come from the environment (``https_proxy``, ``no_proxy``), as
    for any :mod:`urllib` client.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5,
        expect_status: Union[int, Collection[int]] = 200,
        follow_redirects: bool = True,
        ssl_context: Any = None,
    ) -> None:
        split = urllib.parse.urlsplit(url)
        secrets = _secret_forms(split.password) + _secret_forms(
            urllib.parse.unquote(split.password or "")
        )
        self.secrets = tuple(secrets)
        if split.scheme.lower() not in ("http", "https") or not split.hostname:
            raise ValueError(
                scrub(
                    f"expected an http or https URL with a host, got {url!r}", secrets
                )
            )
        self._auth: Optional[str] = None
        if split.username is not None or split.password is not None:
            user = urllib.parse.unquote(split.username or "")
            password = urllib.parse.unquote(split.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._auth = "Basic " + token
            netloc = (
                split.hostname if ":" not in split.hostname else f"[{split.hostname}]"
            )
            if split.port is not None:
                netloc += f":{split.port}"
            split = split._replace(netloc=netloc)
        #: The URL without credentials.
        self.url = urllib.parse.urlunsplit(split)
        self.timeout = _positive_seconds("timeout", timeout)
        self.expect_status = _expected_statuses(expect_status)
        self.follow_redirects = bool(follow_redirects)
        handlers: List[Any] = [_Redirects(self.follow_redirects), _HTTPHandler()]
        if hasattr(urllib.request, "HTTPSHandler"):
            handlers.append(_HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)

    def _request(self) -> urllib.request.Request:
        request = urllib.request.Request(
            self.url,
            headers={"User-Agent": "lovely.ws.status HTTPCheck", "Accept": "*/*"},
        )
        if self._auth:
            # Unredirected: a redirect elsewhere must not carry the password.
            request.add_unredirected_header("Authorization", self._auth)
        return request

    def check(self) -> Dict[str, Any]:
        start = time.perf_counter()
        # The timeout bounds the whole answer (status line and headers), not
        # only each read (name resolution is not covered: it cannot be
        # interrupted).
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
                    raise TimeoutError(
                        f"no complete answer within {self.timeout:g} s"
                    ) from None
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
            return {"state": OK, "detail": f"{text} in {_format_ms(elapsed)}"}
        expected = " or ".join(str(code) for code in self.expect_status)
        return {"state": RED, "detail": f"{text}, expected {expected}"}

    def describe_error(self, exc: Exception) -> str:
        if isinstance(exc, urllib.error.URLError) and not isinstance(
            exc, RedirectRefused
        ):
            reason = exc.reason
            if isinstance(reason, BaseException):
                return describe_exception(reason)
            return f"{type(exc).__name__}: {reason}"
        return describe_exception(exc)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    OPTIONS = ("url", "request_timeout", "expect_status", "follow_redirects")

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> HTTPCheck:
        """Options: ``url`` (required), ``request_timeout`` (``5``),
        ``expect_status`` (``200``; several separated by spaces or commas),
        ``follow_redirects`` (``true``).

        The option ``timeout`` of every handler is the deadline of the status
        views, so the HTTP timeout is called ``request_timeout`` here.
        """
        _check_options(cls, options, cls.OPTIONS)
        url = _option_text(options, "url")
        if not url:
            raise ValueError("the option 'url' is required")
        timeout = _option_seconds(options, "request_timeout", 5.0)
        expect: Any = options.get("expect_status", 200)
        try:
            statuses = _expected_statuses(expect)
        except ValueError as exc:
            raise ValueError(f"option 'expect_status': {exc}") from None
        follow = _option_bool(options, "follow_redirects", True)
        try:
            return cls(
                url, timeout=timeout, expect_status=statuses, follow_redirects=follow
            )
        except ValueError as exc:
            raise ValueError(f"option 'url': {exc}") from None
