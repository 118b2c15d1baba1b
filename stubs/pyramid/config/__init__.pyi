from typing import Any, Iterator

class _Registries:
    def __iter__(self) -> Iterator[Any]: ...

global_registries: _Registries

class Configurator:
    registry: Any
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def __getattr__(self, name: str) -> Any: ...
