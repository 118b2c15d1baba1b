"""A stand-in for ``pyramid.paster.bootstrap``, as Pyramid's own script tests
use: it hands the scripts the registry of a real, committed configuration."""
from __future__ import annotations

from typing import Any, Dict, List

from pyramid.config import Configurator


class Bootstrap:
    """Records how it was called and how often the environment was closed."""

    def __init__(self, make_registry: Any) -> None:
        self.make_registry = make_registry
        self.calls: List[Any] = []
        self.logging_calls: List[Any] = []
        self.closed = 0

    def __call__(self, config_uri: str, options: Any = None) -> Dict[str, Any]:
        self.calls.append((config_uri, options))
        registry = self.make_registry()

        def closer() -> None:
            self.closed += 1

        return {"registry": registry, "closer": closer, "app": None, "root": None}

    def setup_logging(self, config_uri: str, global_conf: Any = None) -> None:
        self.logging_calls.append((config_uri, global_conf))


def make_registry(settings: Any = None, **handlers: Any) -> Any:
    """The registry of an app with ``svcstatus``, ``probestatus`` and ``handlers``."""
    config = Configurator(settings=settings or {})
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    for name, handler in handlers.items():
        config.add_status_handler(name, handler)
    config.commit()
    return config.registry
