from typing import Any, List, Optional, Tuple, Union

class Response:
    status: Union[str, int]
    status_int: int
    headers: Any
    headerlist: List[Tuple[str, str]]
    body: bytes
    def __init__(self, body: Optional[bytes] = ..., status: Optional[Union[str, int]] = ..., content_type: Optional[str] = ..., **kw: Any) -> None: ...
