from typing import Any

class ConfigurationError(Exception): ...

class ConfigurationExecutionError(ConfigurationError):
    etype: Any
    evalue: Any
    info: Any
