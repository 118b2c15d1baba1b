"""A mixin for objects that keep their own state and report it as a handler."""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

__all__ = ["StateHandlerMixin"]


class StateHandlerMixin:
    """Keep a status dict and act as a status handler.

    Subclasses call :meth:`setState` whenever their state changes and
    register the instance with :func:`lovely.ws.status.addStatusHandler`;
    calling the instance returns the current dict. No ``__init__`` of the
    mixin needs to be called.

    Set :attr:`logger` to get an INFO record on every change of the state
    value.
    """

    #: A :class:`logging.Logger` for state changes, or ``None`` for none.
    logger: Optional[logging.Logger] = None

    __state: Optional[Dict[str, Any]] = None

    def setState(self, state: str, **kwargs: Any) -> None:
        """Replace the status dict with ``{'state': state, **kwargs}``."""
        old = self.__state
        old_state = old.get("state") if old else None
        new = {"state": state}
        new.update(kwargs)
        # One assignment, so a concurrent __call__ sees the old or the new
        # dict, never a half-built one.
        self.__state = new
        logger = self.logger
        if logger is not None and old_state != state:
            logger.info(
                'state change: %s -> %s "%s"' % (old_state, state, kwargs.get("detail"))
            )

    def __call__(self) -> Dict[str, Any]:
        """The current status dict, or ``{}`` before the first :meth:`setState`."""
        return self.__state or {}
