"""Running status handlers for the views: the evaluator and its report."""
from .evaluator import DEFAULT_MAX_WORKERS, DEFAULT_TIMEOUT, StatusEvaluator
from .job import timed_out
from .report import StatusReport

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_TIMEOUT",
    "StatusEvaluator",
    "StatusReport",
    "timed_out",
]
