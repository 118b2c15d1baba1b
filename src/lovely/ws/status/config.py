"""Pyramid configuration: the ``add_status_handler`` directive and the
``svcstatus.*`` settings shared by every view of this package.

``config.include('lovely.ws.status')`` (done by each module's ``includeme``)
adds the directive, registers the handlers named in ``svcstatus.handlers``
with the app, and gives the app an evaluator made from the settings.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Union
from urllib.parse import unquote, urlsplit

from pyramid.exceptions import ConfigurationError

from .appstatus import get_app_status
from .details import ALWAYS, as_show_details
from .evaluation import DEFAULT_MAX_WORKERS, DEFAULT_TIMEOUT, StatusEvaluator
from .evaluation.fileshare import FileShare, check_directory
from .evaluation.redisshare import DEFAULT_SHARE_KEY, DEFAULT_SHARE_TIMEOUT, RedisShare
from .evaluation.share import Share
from .handlers import OPTION_NAMES, handler_options
from .redisclient import parse_redis_url
from .settings import (
    Setting,
    add_settings_action,
    as_assignments,
    as_bool,
    as_positive_int,
    as_seconds,
    as_seconds_or_zero,
    as_text,
    seconds,
)
from .text import redact_url, short_repr

__all__ = ["add_status_handler"]

HANDLER_OPTION_PREFIX = "svcstatus.handler."
# After the settings are checked (order -10), before handlers are made (0).
_BEFORE_HANDLERS = -5


def as_label_layout(value: Any) -> str:
    """``family`` or ``1.0``: see ``svcstatus.prometheus_labels``."""
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "family"):
        return "family"
    if text == "1.0":
        return "1.0"
    raise ValueError(f"expected 'family' or '1.0', got {value!r}")


def as_interval(value: Any) -> Optional[float]:
    """Seconds between background runs; empty means ``None`` (on request)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return seconds(value, "the value", text=True)


class ShareSpec(NamedTuple):
    """Where background results are shared: a checked ``svcstatus.share``."""

    #: ``'file'`` or ``'redis'``.
    kind: str
    #: The directory, or the URL for redis-py.
    where: str
    #: The Redis key prefix (``None``: one named after the app).
    prefix: Optional[str] = None
    timeout: float = DEFAULT_SHARE_TIMEOUT

    def open(self, app_name: str) -> Share:
        """The share; its files and (by default) its Redis keys are named
        after ``app_name``."""
        if self.kind == "file":
            return FileShare(self.where, app_name)
        prefix = self.prefix or f"{DEFAULT_SHARE_KEY}:{app_name}"
        return RedisShare(self.where, prefix, self.timeout)


def as_share(value: Any) -> Optional[ShareSpec]:
    """``svcstatus.share``: empty (each process runs each background handler),
    ``file:///directory`` or ``redis://host:port/db``."""
    text = "" if value is None else str(value).strip()
    if text in ("", "none", "local"):
        return None
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment or (
                not path.startswith("/")) or "\x00" in path:
            raise ValueError(f"{text!r}: expected file:///absolute/path/of/a/directory")
        try:
            check_directory(path)
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
        return ShareSpec("file", path)
    if scheme in ("redis", "rediss", "unix"):
        url, key, timeout = parse_redis_url(text, "", DEFAULT_SHARE_TIMEOUT)
        return ShareSpec("redis", url, key or None, timeout)
    raise ValueError(f"{redact_url(text)!r}: expected file:///directory or "
                     "redis://host:port/db")


SVCSTATUS_SETTINGS = [
    Setting(
        "svcstatus.timeout",
        as_seconds,
        DEFAULT_TIMEOUT,
        "Seconds a status handler may take before it is reported RED.",
        "2.5",
    ),
    Setting(
        "svcstatus.max_workers",
        as_positive_int,
        DEFAULT_MAX_WORKERS,
        "Threads that run the app's status handlers at once. A thread left in a "
        "handler past its deadline stops counting (a hung handler is not started "
        "again while it runs, so there is at most one such thread per handler).",
        "8",
    ),
    Setting(
        "svcstatus.concurrent",
        as_bool,
        True,
        "``false`` calls the handlers one after the other in the request's "
        "thread, as 1.0 did (no timeouts): for handlers bound to that thread.",
        "false",
    ),
    Setting(
        "svcstatus.interval",
        as_interval,
        None,
        "Run every status handler in the background every that many seconds, and "
        "answer from its latest result (a handler's own ``interval`` wins); empty: "
        "on request. See :doc:`refresh`.",
        "30",
    ),
    Setting(
        "svcstatus.share",
        as_share,
        None,
        "With background refresh, run each handler in one process of the host "
        "(``file:///DIRECTORY``, a directory every worker can write) or of the "
        "fleet (``redis://HOST:PORT/DB``, optional ``?key=PREFIX&timeout=SECONDS``), "
        "and let every process serve that result; empty: each process runs each. "
        "See :doc:`refresh`.",
        "file:///run/myapp/status",
    ),
    Setting(
        "svcstatus.handlers",
        as_assignments,
        [],
        "Status handlers to register, one ``name = dotted.name`` per line.",
        "\n    db = myapp.health:db\n    disk = myapp.health:disk",
    ),
    Setting(
        "svcstatus.permission",
        as_text,
        None,
        "Permission needed to read ``/svc_status``; empty: everybody may.",
        "view-status",
    ),
    Setting(
        "svcstatus.show_details",
        as_show_details,
        ALWAYS,
        "Who sees the handlers' details on ``/svc_status`` and ``/__heartbeat__``: "
        "``always`` (as 1.0), ``never``, or ``when_authorized`` (requests with "
        "``svcstatus.details_permission``, or without it any authenticated user); "
        "the others get each handler's name and state only.",
        "when_authorized",
    ),
    Setting(
        "svcstatus.details_permission",
        as_text,
        None,
        "The permission that ``svcstatus.show_details = when_authorized`` asks for.",
        "view-status-details",
    ),
    Setting(
        "svcstatus.prometheus_labels",
        as_label_layout,
        "family",
        "Where the Prometheus output puts the numbers of a handler's ``labels``: "
        "``family`` (``svc_status_label{name, label}``), or ``1.0`` "
        "(``svc_status{name=\"<handler>_<label>\"}``, as 1.0 did).",
        "1.0",
    ),
    Setting(
        "svcstatus.name",
        as_text,
        None,
        "The app's name on the HTML page; empty: the name of the app's Pyramid "
        "registry (its package). See :doc:`status-page`.",
        "shop",
    ),
    Setting(
        "svcstatus.html_refresh",
        as_seconds_or_zero,
        10.0,
        "Seconds between reloads of the HTML page, rounded up to whole seconds; "
        "``0``: it never reloads. See :doc:`status-page`.",
        "30",
    ),
]


def _resolve(config: Any, name: str, target: Any) -> Any:
    if isinstance(target, str):
        try:
            return config.maybe_dotted(target)
        except (ImportError, ValueError, AttributeError) as exc:
            raise ConfigurationError(
                f"status handler {name!r}: cannot import {target!r}: {exc}"
            ) from exc
        except Exception as exc:  # the module itself fails: SyntaxError, ...
            raise ConfigurationError(
                f"status handler {name!r}: cannot import {target!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return target


def _settings_handlers(settings: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    try:
        return dict(as_assignments((settings or {}).get("svcstatus.handlers")))
    except ValueError:
        return {}  # the settings action reports it, at commit


def _register_action(
    config: Any,
    name: str,
    make_handler: Callable[[], Any],
    options: Dict[str, Any],
    source: Any,
    discriminator: str = "lovely.ws.status.handler",
) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a status handler name must be a non-empty string, not {name!r}")
    intr = config.introspectable("status handlers", name, name, "status handler")
    intr["source"] = source
    for key in OPTION_NAMES:
        intr[key] = options.get(key)

    def register() -> None:
        handler = make_handler()
        if not callable(handler):
            raise ConfigurationError(
                f"status handler {name!r}: {handler!r} is not callable"
            )
        try:
            checked = handler_options(**options, text=True)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"status handler {name!r}: {exc}") from None
        intr["handler"] = handler
        intr.update(checked._asdict())
        get_app_status(config.registry).add_handler(name, handler, checked)

    config.action((discriminator, name), register, introspectables=(intr,))


def add_status_handler(
    config: Any,
    name: str,
    handler: Union[str, Callable[[], Mapping[str, Any]]],
    timeout: Optional[float] = None,
    ttl: Optional[float] = None,
    **options: Any,
) -> None:
    """Register a status handler of this app when the configuration is committed.

    Unlike :func:`~lovely.ws.status.addStatusHandler`, the handler belongs
    to this app alone (and wins over a process-wide one of the same name).
    ``handler`` may be a dotted name (``pkg.mod:obj`` or ``pkg.mod.obj``);
    ``timeout``, ``ttl`` and the keyword ``options`` (``failure_ttl``,
    ``interval``, ``failure_threshold``, ``groups``, ``critical``) are those
    of ``addStatusHandler``; two handlers of the same name conflict at
    commit; each handler is an introspectable of the category
    ``status handlers``.
    """
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ConfigurationError(
            f"status handler {name!r}: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(OPTION_NAMES)}"
        )
    def not_in_settings() -> None:
        # Pyramid lets an app override what its includes register, so a
        # discriminator shared with the settings' handlers would let this
        # directive silently replace one of them when called in the app
        # factory: they have discriminators of their own, and this check,
        # which runs before any handler is imported or made.
        target = _settings_handlers(config.registry.settings).get(name)
        if target is not None:
            raise ConfigurationError(
                f"status handler {name!r} is registered twice: in 'svcstatus.handlers' "
                f"({target}) and by config.add_status_handler({short_repr(handler)}); "
                "remove one or give it another name"
            )

    config.action(None, not_in_settings, order=_BEFORE_HANDLERS)
    options.update(timeout=timeout, ttl=ttl)
    _register_action(config, name, lambda: _resolve(config, name, handler),
                     {k: v for k, v in options.items() if v is not None}, handler)


def _handler_from_settings(
    config: Any, name: str, target: str, options: Dict[str, Any]
) -> Callable[[], Any]:
    def make() -> Any:
        obj = _resolve(config, name, target)
        if inspect.isclass(obj):
            factory = getattr(obj, "from_settings", None)
            if factory is not None:
                try:
                    return factory(config.registry.settings, options)
                except (TypeError, ValueError, KeyError) as exc:
                    raise ConfigurationError(
                        f"status handler {name!r} ({target}): {exc}"
                    ) from exc
                except Exception as exc:
                    raise ConfigurationError(
                        f"status handler {name!r} ({target}): "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            if options:
                raise ConfigurationError(
                    f"status handler {name!r}: {target} takes no options, got "
                    + ", ".join(HANDLER_OPTION_PREFIX + name + "." + k for k in options)
                )
            try:
                return obj()
            except Exception as exc:  # a class that needs arguments, ...
                raise ConfigurationError(
                    f"status handler {name!r}: cannot make {target}(): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        if options:
            raise ConfigurationError(
                f"status handler {name!r}: {target} is not a class with "
                "from_settings(), so it takes no options, got "
                + ", ".join(HANDLER_OPTION_PREFIX + name + "." + k for k in options)
            )
        return obj

    return make


def _add_handlers_from_settings(config: Any, settings: Mapping[str, Any]) -> None:
    try:
        pairs = as_assignments(settings.get("svcstatus.handlers"))
    except ValueError:
        return  # the settings action reports it, at commit
    names = {name for name, _ in pairs}
    for key in settings:
        if isinstance(key, str) and key.startswith(HANDLER_OPTION_PREFIX):
            rest = key[len(HANDLER_OPTION_PREFIX):]
            owner = next(
                (n for n in sorted(names, key=len, reverse=True) if rest.startswith(n + ".")),
                None,
            )
            if owner is None:
                message = (
                    f"setting {key!r} names no handler of 'svcstatus.handlers' "
                    "(expected svcstatus.handler.<name>.<option>)"
                )

                def fail(message: str = message) -> None:
                    raise ConfigurationError(message)

                config.action(("lovely.ws.status.settings-option", key), fail)
    for name, target in pairs:
        prefix = f"{HANDLER_OPTION_PREFIX}{name}."
        options = {
            key[len(prefix):]: value
            for key, value in settings.items()
            if isinstance(key, str) and key.startswith(prefix)
        }
        own = {key: options.pop(key) for key in OPTION_NAMES if key in options}
        _register_action(
            config,
            name,
            _handler_from_settings(config, name, target, options),
            own,
            target,
            discriminator="lovely.ws.status.settings-handler",
        )


def includeme(config: Any) -> None:
    """Set up what every module of this package needs (done once per app)."""
    config.add_directive("add_status_handler", add_status_handler)
    settings = config.get_settings() or {}
    _add_handlers_from_settings(config, settings)
    app = get_app_status(config.registry)

    def install(typed: Dict[str, Any]) -> None:
        app.settings.update(typed)
        spec = typed["svcstatus.share"]
        app.evaluator = StatusEvaluator(
            timeout=typed["svcstatus.timeout"],
            max_workers=typed["svcstatus.max_workers"],
            concurrent=typed["svcstatus.concurrent"],
            interval=typed["svcstatus.interval"],
            share=None if spec is None else spec.open(config.registry.__name__ or "app"),
        )

    add_settings_action(
        config,
        "svcstatus.",
        SVCSTATUS_SETTINGS,
        dynamic=(HANDLER_OPTION_PREFIX,),
        then=install,
        order=-10,
    )
