"""The headers every view of this package sends, and how it sets them."""
from __future__ import annotations

from typing import Any, List

__all__: List[str] = []

#: Sent with every answer of this package's views: a status is never
#: cached, nor its type guessed.
NO_STORE = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
#: :data:`NO_STORE`, for views whose format depends on ``Accept``.
NEGOTIATED = NO_STORE + (("Vary", "Accept"),)


def add_headers(response: Any, headers: Any) -> None:
    """Set ``headers`` on ``response``; those it does not have yet (nearly
    always all of them) are appended, which is cheaper."""
    present = {name.lower() for name, _ in response.headerlist}
    for name, value in headers:
        if name.lower() in present:
            response.headers[name] = value
        else:
            response.headerlist.append((name, value))
