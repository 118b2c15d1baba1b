"""Ready-made status handlers for the backends Pyramid applications use.

Each class makes status handlers: an instance is a callable without
arguments returning ``{'state': ..., 'detail': ...}``, so it can be given to
:func:`lovely.ws.status.addStatusHandler`, to ``config.add_status_handler``,
or named in the ``svcstatus.handlers`` setting (each class has a
``from_settings`` class method for that).

Every check keeps the contract of :class:`Check`: it never raises (whatever
goes wrong is :data:`~lovely.ws.status.RED` with ``"ExceptionClass:
message"``), its details are one line, and the passwords of the URLs it was
given are replaced by ``***`` wherever they would appear.

The optional dependencies (SQLAlchemy, Alembic, redis) are imported only
when a check that needs them is made.
"""

from __future__ import annotations

from .base import Check
from .disk import DiskSpaceCheck, parse_size, parse_threshold
from .http import HTTPCheck, RedirectRefused
from .redis import RedisCheck
from .sql import DatabaseCheck, MigrationsCheck, create_check_engine

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
