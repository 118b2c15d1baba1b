"""gunicorn settings for prometheus_client's multiprocess mode."""
from prometheus_client import multiprocess


def child_exit(server, worker):
    # What prometheus_client's documentation asks for (live gauges).
    multiprocess.mark_process_dead(worker.pid)
