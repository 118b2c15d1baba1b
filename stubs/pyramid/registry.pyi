from typing import Any

global_registry: Any
