from typing import Any, Callable, TypeVar

_T = TypeVar("_T")

class Interface: ...

class Attribute:
    def __init__(self, __name: str, __doc: str = ...) -> None: ...

def implementer(*interfaces: Any) -> Callable[[_T], _T]: ...
