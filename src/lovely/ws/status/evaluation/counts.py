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
from itertools import repeat
from operator import add, itemgetter
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

#: ``(name, state)`` -> ``[count, created]``: when the first of them was counted.
Totals = Dict[Tuple[str, str], List[float]]
#: ``(name, state, count, created)``: one row of the counts.
Row = Tuple[str, str, int, float]
#: ``(name, state, created)`` per series, and the counts aligned with them.
Snapshot = Tuple[Sequence[Tuple[str, str, float]], List[int]]

_ORDER = {state: i for i, state in enumerate(STATES)}


def multiproc_dir() -> Optional[str]:
    """The directory of ``prometheus_client``'s multiprocess mode, if set."""
    return os.environ.get(MULTIPROC_ENV) or None


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
        # The series sorted by name and state, and their counts. Each
        # change makes a new list of counts, so a reader may keep one.
        self._series: Tuple[Tuple[str, str, float], ...] = ()
        self._counts: List[int] = []
        self._positions: Dict[Tuple[str, str], int] = {}
        # The evaluations not yet counted: ``_runs`` of them had the names
        # ``_names`` in the states ``_states``, the first at ``_since``;
        # ``_pattern`` are the positions of their series once looked up,
        # ``_all`` says whether those are every series, once each.
        self._names: Optional[Sequence[Any]] = None
        self._states: Optional[List[Any]] = None
        self._pattern: Optional[List[int]] = None
        self._all = False
        self._runs = 0
        self._since = 0.0
        self._timer: Optional[threading.Timer] = None
        self._written = 0.0  # when the file was last written (monotonic)
        self._multiproc = False  # whether PROMETHEUS_MULTIPROC_DIR was set

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
            # (names are the same list from one request to the next: see AppStatus.listed)
            if (names is self._names or names == self._names) and states == self._states:
                self._runs += 1
            else:
                self._fold()
                self._names, self._states, self._pattern = names, states, None
                self._runs = 1
                self._since = time.time()
                # (looked at here, not at every evaluation: it is no free lookup)
                self._multiproc = multiproc_dir() is not None
            if self._multiproc and self._timer is None and self.share:
                self._schedule(multiproc_dir())

    def _look_up(self, names: Sequence[Any], states: Sequence[Any]) -> List[int]:
        """The positions of the series of ``names`` in ``states``; new
        series are added, created now (under the lock)."""
        keys = [(to_text(name), state if type(state) is str else STATES[severity(state)])
                for name, state in zip(names, states)]
        positions = self._positions
        if any(key not in positions for key in keys):
            rows = {(name, state): (count, created) for (name, state, created), count
                    in zip(self._series, self._counts)}
            for key in keys:
                rows.setdefault(key, (0, self._since))
            ordered = sorted(rows.items(), key=lambda item: (item[0][0], _ORDER[item[0][1]]))
            self._series = tuple((n, s, created) for (n, s), (_, created) in ordered)
            self._counts = [count for _, (count, _) in ordered]
            positions = self._positions = {key: i for i, (key, _) in enumerate(ordered)}
        return [positions[key] for key in keys]

    def _fold(self) -> None:
        """Add the pending run to the counts (under the lock)."""
        runs = self._runs
        if not runs or self._names is None or self._states is None:
            return
        pattern = self._pattern
        if pattern is None:
            pattern = self._pattern = self._look_up(self._names, self._states)
            n = len(self._counts)
            self._all = len(pattern) == n and len(set(pattern)) == n
        if self._all:  # the common case: every series once, in C
            self._counts = list(map(add, self._counts, repeat(runs)))
        else:
            counts = list(self._counts)
            for position in pattern:
                counts[position] += runs
            self._counts = counts
        self._runs = 0

    def own(self) -> List[Row]:
        """This process's ``(name, state, count, created)`` rows, sorted."""
        series, counts = self._own()
        return [(name, state, count, created)
                for (name, state, created), count in zip(series, counts)]

    def _own(self) -> Snapshot:
        with self._lock:
            if self._pid != os.getpid():
                self._reset()
            self._fold()
            return self._series, self._counts

    def snapshot(self) -> Snapshot:
        """``(series, counts)``: ``(name, state, created)`` of each series,
        sorted by name and state, and how many evaluations each counts;
        ``created`` is when the first of them was counted.

        In multiprocess mode, the sums over every process's file (this
        process's is written first). Otherwise ``series`` stays the same
        object until a series is added. Neither is changed afterwards.
        """
        directory = multiproc_dir() if self.share else None
        if directory is not None:
            rows = self._read_all(directory, self._share(directory))
            return tuple((n, s, c) for n, s, _, c in rows), [count for _, _, count, _ in rows]
        return self._own()

    # ------------------------------------------------------------ multiprocess

    def _schedule(self, directory: Optional[str]) -> None:
        """Write the file soon (under the lock): at once after a quiet
        second, else one second after the last write."""
        delay = max(0.0, FLUSH_SECONDS - (time.monotonic() - self._written))
        timer = threading.Timer(delay, self._flush, (directory,))
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _flush(self, directory: Optional[str]) -> None:
        with self._lock:
            self._timer = None
        # (only into the directory the counts were made for)
        if directory is not None and directory == multiproc_dir() and self.share:
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
