from typing import Any, Iterable, List, Tuple

class AcceptValidHeader:
    parsed: Iterable[Tuple[str, float, List[Tuple[str, str]], List[Any]]]

def create_accept_header(header_value: Any) -> Any: ...
