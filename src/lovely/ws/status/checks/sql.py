"""Checks on a SQLAlchemy database: :class:`DatabaseCheck` runs a query,
:class:`MigrationsCheck` compares the Alembic revision with the scripts' head.

SQLAlchemy and Alembic are optional extras, imported when a check is made.
"""

from __future__ import annotations

import importlib
import math
import os
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..settings import seconds
from ..states import OK, YELLOW
from ..text import PASSWORD_PARAMETERS, describe_exception, redact, secret_forms
from .base import Check, check_options, format_ms, option_seconds, option_text

__all__: List[str] = ["DatabaseCheck", "MigrationsCheck", "create_check_engine"]

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

# SQLite keeps its timeout in milliseconds in a C int and PyMySQL refuses
# more than a year: beyond this, a longer timeout would not wait longer
# but break (SQLite) or refuse (PyMySQL) every connection.
_DRIVER_TIMEOUT_MAX = 2_000_000


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this check needs {module.split('.')[0]}: "
            f"pip install 'lovely-ws-status[{extra}]' ({exc})"
        ) from exc


def _url_of(value: Any) -> Any:
    _require("sqlalchemy", "sqlalchemy")
    from sqlalchemy.engine import make_url

    return make_url(value)


def _url_secrets(url: Any) -> Tuple[str, ...]:
    """The password of a SQLAlchemy URL, and those in its query (``?password=``)."""
    secrets = secret_forms(url.password)
    query = getattr(url, "query", None) or {}
    for key, value in query.items():
        if str(key).lower() in PASSWORD_PARAMETERS:
            for item in value if isinstance(value, (tuple, list)) else (value,):
                secrets.extend(secret_forms(str(item)))
    return tuple(sorted(set(secrets), key=len, reverse=True))


def create_check_engine(url: Any, connect_timeout: float = 3.0) -> Any:
    """An engine for health checks: ``pool_pre_ping`` and a short connect timeout.

    The timeout is passed to the drivers that are known to take one, unless
    the URL sets it already.
    """
    timeout = seconds(connect_timeout, "connect_timeout")
    sqlalchemy = _require("sqlalchemy", "sqlalchemy")
    url = _url_of(url)
    connect_args: Dict[str, Any] = {}
    name = _CONNECT_TIMEOUT_ARGS.get(url.get_driver_name())
    if name and name not in url.query:
        timeout = min(timeout, _DRIVER_TIMEOUT_MAX)
        if name in ("connect_timeout", "connection_timeout"):
            # libpq and the MySQL drivers take whole seconds.
            connect_args[name] = max(1, math.ceil(timeout))
        else:
            connect_args[name] = timeout
    return sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _engine_of(engine: Any, connect_timeout: float) -> Tuple[Any, bool]:
    """``(engine, made here)`` from an engine, a URL or a URL string."""
    if hasattr(engine, "connect") and hasattr(engine, "url"):
        return engine, False
    return create_check_engine(engine, connect_timeout), True


def _url_from_settings(
    settings: Mapping[str, Any], options: Mapping[str, Any]
) -> Tuple[Optional[str], str]:
    """``(url, where it came from)`` from the ``url`` option or the settings."""
    url = option_text(options, "url")
    if url:
        return url, "option 'url'"
    prefix = option_text(options, "engine_prefix") or "sqlalchemy."
    url = option_text(settings, prefix + "url")
    return url, f"setting {prefix + 'url'!r}"


def _engine_from_url(url: str, where: str, connect_timeout: float) -> Any:
    try:
        return create_check_engine(url, connect_timeout)
    except Exception as exc:
        # A bad URL or a missing driver: a configuration error, whose
        # message may quote the URL.
        raise ValueError(
            redact(f"{where}: cannot make an engine: {describe_exception(exc)}")
        ) from None


class _EngineCheck(Check):
    """What the checks on a SQLAlchemy engine share."""

    engine: Any
    owns_engine: bool
    connect_timeout: float

    def _use_engine(self, engine: Any) -> None:
        """Use ``engine``, or one made from a URL; its passwords become secrets."""
        self.engine, self.owns_engine = _engine_of(engine, self.connect_timeout)
        self.secrets = _url_secrets(self.engine.url)

    def describe_error(self, exc: Exception) -> str:
        # SQLAlchemy wraps the driver's exception, and its own message adds
        # the SQL and a documentation link; the driver's says what is wrong.
        orig = getattr(exc, "orig", None)
        return describe_exception(orig if isinstance(orig, BaseException) else exc)

    def close(self) -> None:
        """Dispose of the engine if the check made it."""
        if self.owns_engine:
            self.engine.dispose()

    def _repr(self, what: Any) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return redact(f"<{type(self).__name__} {url} {what}>", self.secrets)


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

    OPTIONS = ("url", "engine_prefix", "query", "connect_timeout")

    def __init__(self, engine: Any, query: str = "SELECT 1", connect_timeout: float = 3.0) -> None:
        self.connect_timeout = seconds(connect_timeout, "connect_timeout")
        self._use_engine(engine)
        self.query = query
        from sqlalchemy import text

        self._statement = text(query)

    def check(self) -> Dict[str, Any]:
        with self.engine.connect() as connection:
            start = time.perf_counter()
            connection.execute(self._statement).fetchall()
            elapsed = time.perf_counter() - start
        return {"state": OK, "detail": f"{self.query}: round trip {format_ms(elapsed)}"}

    def __repr__(self) -> str:
        return self._repr(repr(self.query))

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> DatabaseCheck:
        """Options: ``url`` (default: the ``sqlalchemy.url`` setting),
        ``engine_prefix`` (``sqlalchemy.``), ``query``, ``connect_timeout``."""
        check_options(cls, options, cls.OPTIONS)
        timeout = option_seconds(options, "connect_timeout", 3.0)
        url, where = _url_from_settings(settings, options)
        if not url:
            raise ValueError(f"no database URL: set the option 'url' or the {where}")
        engine = _engine_from_url(url, where, timeout)
        check = cls(
            engine, query=option_text(options, "query") or "SELECT 1", connect_timeout=timeout
        )
        check.owns_engine = True
        return check


# ------------------------------------------------------------------ Alembic


def _resolve_path(spec: str) -> str:
    """A file system path, or a Pyramid asset spec ``package:path``."""
    if os.path.isabs(spec) or ":" not in spec:
        return os.path.abspath(spec)
    from pyramid.path import AssetResolver

    return str(AssetResolver(None).resolve(spec).abspath())


def _alembic_config(value: Any) -> Any:
    _require("alembic", "alembic")
    from alembic.config import Config

    if isinstance(value, Config):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"alembic_config must be an alembic Config or a path, not {value!r}")
    path = _resolve_path(os.fspath(value))
    if os.path.isdir(path):
        config = Config()
        config.set_main_option("script_location", path.replace("%", "%%"))
        return config
    if os.path.isfile(path):
        return Config(path)
    raise ValueError(f"{os.fspath(value)!r} is neither an alembic.ini file nor a directory")


def _alembic_config_from_options(options: Mapping[str, Any]) -> Any:
    """The Alembic config the ``alembic_ini`` and ``script_location`` options name."""
    ini = option_text(options, "alembic_ini")
    location = option_text(options, "script_location")
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
    return config


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

    OPTIONS = (
        "url",
        "engine_prefix",
        "alembic_ini",
        "script_location",
        "version_table",
        "version_table_schema",
        "connect_timeout",
    )

    def __init__(
        self,
        engine: Any,
        alembic_config: Any,
        version_table: str = "alembic_version",
        version_table_schema: Optional[str] = None,
        connect_timeout: float = 3.0,
    ) -> None:
        self.connect_timeout = seconds(connect_timeout, "connect_timeout")
        self.config = _alembic_config(alembic_config)
        from alembic.script import ScriptDirectory

        # Fails now when the script directory is missing; the revision
        # files themselves are read on the first check.
        self.script = ScriptDirectory.from_config(self.config)
        self._use_engine(engine)
        self.version_table = version_table
        self.version_table_schema = version_table_schema
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
        if not current:
            if not heads:
                return {"state": OK, "detail": "no migrations"}
            why = (
                f"no table {self.version_table}"
                if current is None
                else f"{self.version_table} is empty"
            )
            # Not migrated is not broken: a fresh database is waiting for
            # its first "alembic upgrade", so YELLOW rather than RED.
            return {"state": YELLOW, "detail": f"not migrated ({why}); head {head_text}"}
        if set(current) == set(heads):
            return {"state": OK, "detail": f"at head {head_text}"}
        parts = [
            rev if self._known(rev) else f"{rev} (not in the migration scripts)" for rev in current
        ]
        return {"state": YELLOW, "detail": f"current {', '.join(parts)}; head {head_text}"}

    def __repr__(self) -> str:
        return self._repr(self.script.dir)

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> MigrationsCheck:
        """Options: ``alembic_ini`` and/or ``script_location`` (one is needed),
        ``url`` (default: the ``sqlalchemy.url`` setting, then the
        ``sqlalchemy.url`` of the ``alembic.ini``), ``engine_prefix``,
        ``version_table``, ``version_table_schema``, ``connect_timeout``."""
        check_options(cls, options, cls.OPTIONS)
        timeout = option_seconds(options, "connect_timeout", 3.0)
        config = _alembic_config_from_options(options)
        url, where = _url_from_settings(settings, options)
        ini = option_text(options, "alembic_ini")
        if not url and ini:
            url = option_text({"url": config.get_main_option("sqlalchemy.url")}, "url")
            where = f"sqlalchemy.url of {ini}"
        if not url:
            raise ValueError(f"no database URL: set the option 'url' or the {where}")
        engine = _engine_from_url(url, where, timeout)
        check = cls(
            engine,
            config,
            version_table=option_text(options, "version_table") or "alembic_version",
            version_table_schema=option_text(options, "version_table_schema"),
            connect_timeout=timeout,
        )
        check.owns_engine = True
        return check
