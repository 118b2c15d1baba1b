""":class:`CheckCounts`: how many evaluations of each handler ended in each state.

The counts behind ``svc_status_checks_total``. Every evaluation for a view
adds to them, so they must cost next to nothing for a thousand handlers:
an evaluation whose handlers and states are those of the one before (the
common case) only adds one to a run; the run is spread over the counts
when the states change or somebody reads them.

Under a multi-process server the counts of one worker are not the app's.
With ``PROMETHEUS_MULTIPROC_DIR`` set (``prometheus_client``'s multiprocess
mode), each process writes its totals into a file of its own in that
directory, at most once a second and whenever the counts are read; a
reader adds up every process's file, so any worker answers a scrape with
the sum over all of them, those that have ended included (a counter never
goes down).
"""
from __future__ import annotations

import glob
import json
import logging
import os
import threading
import time
import uuid
from operator import itemgetter
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..states import STATES, severity
from ..text import to_text
from ..throttle import Throttle

__all__: List[str] = ["CheckCounts", "MULTIPROC_ENV"]

log = logging.getLogger("lovely.ws.status")

#: The environment variable of ``prometheus_client``'s multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds a process may keep counts before it writes them to its file.
FLUSH_SECONDS = 1.0
#: ``svc_status_checks_<pid>_<random>.json`` in the multiprocess directory.
FILE_PREFIX = "svc_status_checks_"

_STATE = itemgetter("state")
_COUNT = itemgetter(2)

#: ``(name, state)`` -> ``[count, created]``: when the first of them was counted.
Totals = Dict[Tuple[str, str], List[float]]
#: ``(name, state, count, created)``: one row of the counts.
Row = Tuple[str, str, int, float]
#: ``(name, state, created)`` per series, and the counts aligned with them.
Snapshot = Tuple[Sequence[Tuple[str, str, float]], List[int]]

_ORDER = {state: i for i, state in enumerate(STATES)}


def _row_key(row: List[Any]) -> Tuple[str, int]:
    return row[0], _ORDER.get(row[1], 3)


def multiproc_dir() -> Optional[str]:
    """The directory of ``prometheus_client``'s multiprocess mode, if set."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


class CheckCounts:
    """Counts of evaluations per handler name and state, for one app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Held while a snapshot is taken and written: files never go back.
        self._write_lock = threading.Lock()
        self._throttle = Throttle()
        self._reset()
        #: Whether to write the multiprocess file when the mode is on
        #: (``pstatus`` turns it off: it is no worker of the app).
        self.share = True

    def _reset(self) -> None:
        self._pid = os.getpid()
        # The file's name: a new process may get the pid of one that ended.
        self._token = f"{self._pid}_{uuid.uuid4().hex[:12]}"
        # (name, state) -> [name, state, count, created]
        self._rows: Dict[Tuple[str, str], List[Any]] = {}
        self._sorted: Optional[List[List[Any]]] = None  # the rows in order
        # (name, state, created) of the sorted rows: one object until a row is added.
        self._series: Tuple[Tuple[str, str, float], ...] = ()
        # The evaluations not yet in the rows: ``_runs`` of them had the
        # names ``_names`` in the states ``_states``, the first at ``_since``;
        # ``_pattern`` are their rows once looked up.
        self._names: Optional[Sequence[Any]] = None
        self._states: Optional[List[Any]] = None
        self._pattern: Optional[List[List[Any]]] = None
        self._runs = 0
        self._since = 0.0
        self._timer: Optional[threading.Timer] = None
        self._written = 0.0  # when the file was last written (monotonic)

    # ------------------------------------------------------------ counting

    def add(self, names: Sequence[Any], statuses: Sequence[Mapping[str, Any]]) -> None:
        """Count one evaluation: ``statuses[i]`` is what ``names[i]`` ended in.

        The states must be valid (as in a
        :class:`~lovely.ws.status.evaluation.StatusReport`); ``names`` is
        kept until the next change, so it must not be modified afterwards.
        """
        try:
            states = list(map(_STATE, statuses))
        except Exception:  # not a report's statuses: look at each one
            states = [STATES[severity(s.get("state"))] for s in statuses]
        with self._lock:
            if self._pid != os.getpid():
                self._reset()  # what the parent counted is the parent's
            if states == self._states and names == self._names:
                self._runs += 1
            else:
                self._fold()
                self._names, self._states, self._pattern = names, states, None
                self._runs = 1
                self._since = time.time()
            if self.share and self._timer is None and multiproc_dir() is not None:
                self._schedule()

    def _fold(self) -> None:
        """Add the pending run to the rows (under the lock)."""
        runs = self._runs
        if not runs or self._names is None or self._states is None:
            return
        pattern = self._pattern
        if pattern is None:
            rows = self._rows
            pattern = []
            for name, state in zip(self._names, self._states):
                if type(state) is not str:
                    state = STATES[severity(state)]
                key = (to_text(name), state)
                row = rows.get(key)
                if row is None:
                    row = rows[key] = [key[0], state, 0, self._since]
                    self._sorted = None
                pattern.append(row)
            self._pattern = pattern
        for row in pattern:
            row[2] += runs
        self._runs = 0

    def _ordered(self) -> List[List[Any]]:
        """The rows sorted by name and state, the pending run in them (under
        the lock)."""
        if self._pid != os.getpid():
            self._reset()  # what the parent counted is the parent's
        self._fold()
        ordered = self._sorted
        if ordered is None:
            ordered = self._sorted = sorted(self._rows.values(), key=_row_key)
            self._series = tuple((row[0], row[1], row[3]) for row in ordered)
        return ordered

    def own(self) -> List[Row]:
        """This process's ``(name, state, count, created)`` rows, sorted."""
        with self._lock:
            return [(row[0], row[1], row[2], row[3]) for row in self._ordered()]

    def snapshot(self) -> Snapshot:
        """``(series, counts)``: ``(name, state, created)`` of each series,
        sorted by name and state, and how many evaluations each counts;
        ``created`` is when the first of them was counted.

        In multiprocess mode, the sums over every process's file (this
        process's is written first). Otherwise ``series`` stays the same
        object until a series is added.
        """
        directory = multiproc_dir() if self.share else None
        if directory is not None:
            rows = self._read_all(directory, self._share(directory))
            return tuple((n, s, c) for n, s, _, c in rows), [count for _, _, count, _ in rows]
        with self._lock:
            counts = list(map(_COUNT, self._ordered()))
            return self._series, counts

    # ------------------------------------------------------------ multiprocess

    def _schedule(self) -> None:
        """Write the file soon (under the lock): at once after a quiet
        second, else one second after the last write."""
        delay = max(0.0, FLUSH_SECONDS - (time.monotonic() - self._written))
        timer = threading.Timer(delay, self._flush)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
        directory = multiproc_dir()
        if directory is not None and self.share:
            self._share(directory)

    def _share(self, directory: str) -> List[Row]:
        """Write this process's rows to its file; return them."""
        with self._write_lock:
            rows = self.own()
            self._write(directory, rows)
            return rows

    def _path(self, directory: str) -> str:
        return os.path.join(directory, f"{FILE_PREFIX}{self._token}.json")

    def _write(self, directory: str, rows: List[Row]) -> None:
        path = self._path(directory)
        data = json.dumps({"counts": rows})
        temporary = os.path.join(directory, f".{FILE_PREFIX}{self._token}.{threading.get_ident()}")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(data)
            os.replace(temporary, path)  # readers see the old file or the new one
        except OSError as exc:
            missed = self._throttle.fail()
            if missed is not None:
                log.warning("cannot write the check counts to %s: %s%s", path, exc,
                            f" ({missed} more failures since the last warning)" if missed else "")
            return
        self._throttle.clear()
        self._written = time.monotonic()

    def _read_all(self, directory: str, own: List[Row]) -> List[Row]:
        """``own`` plus the rows in the files of the other processes."""
        mine = self._path(directory)
        summed: Totals = {(name, state): [count, created] for name, state, count, created in own}
        for path in glob.glob(os.path.join(glob.escape(directory), FILE_PREFIX + "*.json")):
            if path == mine:
                continue
            try:
                with open(path, encoding="utf-8") as file:
                    rows = json.load(file)["counts"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # gone meanwhile, or not ours
            for row in rows:
                try:
                    name, state, count, created = row
                    key = (str(name), str(state))
                    count, created = float(count), float(created)
                except (TypeError, ValueError):
                    continue
                entry = summed.get(key)
                if entry is None:
                    summed[key] = [count, created]
                else:
                    entry[0] += count
                    entry[1] = min(entry[1], created)
        return sorted(
            ((name, state, int(count), created)
             for (name, state), (count, created) in summed.items()),
            key=lambda row: (row[0], _ORDER.get(row[1], 3)),
        )
