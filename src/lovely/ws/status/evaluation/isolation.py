"""Making text of what handlers returned without letting it hold a
request, or the refresher: :func:`isolated`.

A detail is any object, and its ``__str__`` (a label's ``__float__``) is
the application's code, which may block as a handler may. The handler's
deadline does not cover it: it runs when a view renders, or when the
refresher shares a result. So that text is made in three steps:

1. in this thread, in "plain only" mode: the common case, where every
   value is a string, number, date or the like, costs nothing more;
2. where a value's text would run its own code: again, normally, on a
   status thread, under the evaluator's ``timeout``;
3. if that does not return in time (or a render is already stuck): in
   this thread, with a placeholder for each such value.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, TypeVar

from ..text import PLACEHOLDER, RAISE, NotPlain, reset_mode, set_mode

__all__: List[str] = []

T = TypeVar("T")


def plain_only(render: Callable[[], T]) -> Optional[T]:
    """``render()`` in "plain only" mode (step 1); ``None`` where a value's
    text would run its own code."""
    token = set_mode(RAISE)
    try:
        return render()
    except NotPlain:
        return None
    finally:
        reset_mode(token)


def isolated(render: Callable[[], T], evaluator: Any) -> T:
    """``render()``, which makes text of statuses, without ever waiting
    longer than the ``timeout`` of ``evaluator`` (a
    :class:`~lovely.ws.status.evaluation.StatusEvaluator`) on the code of
    the values in it."""
    done = plain_only(render)
    return done if done is not None else not_plain(render, evaluator)


def not_plain(render: Callable[[], T], evaluator: Any) -> T:
    """Steps 2 and 3: ``render()`` of values whose text is their own code."""
    if not evaluator.concurrent:  # handlers bound to the request's thread: so may their objects
        return render()
    done = evaluator.call(render, evaluator.timeout)
    if done is not None:
        return done  # type: ignore[no-any-return]
    token = set_mode(PLACEHOLDER)
    try:
        return render()
    finally:
        reset_mode(token)
