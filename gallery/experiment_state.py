"""Whether an experiment is running, finished, or interrupted with N of M cells made.

An experiment's grid has seeds × variants × axis values cells. While a process makes them it
is the experiment's `runner` (`<host>-<pid>`), with a heartbeat at every finished batch; it
clears both when it ends, Stop and errors included. An experiment is then:

- running: its runner is alive (a process of this host that exists, or, on another host, one
  whose last heartbeat is under `RUN_TIMEOUT_S` old);
- finished: every cell of the grid is made;
- interrupted: cells are missing and nothing is making them (Stop, an error, a kill, or an
  experiment saved before states existed). "Run the missing cells" completes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from gallery.files import HOSTNAME, owner_alive

RUN_TIMEOUT_S = 30 * 60
RUNNING, FINISHED, INTERRUPTED = "running", "finished", "interrupted"

Position = tuple[int, int, int]
"""A cell's place in the grid: (seed row, variant position, axis column; 0 without an axis)."""


@dataclass(frozen=True)
class ExperimentState:
    """`status` (running, finished, interrupted) and how many of the grid's cells exist."""

    status: str = FINISHED
    made: int = 0
    expected: int = 0

    def __str__(self) -> str:
        if self.status == FINISHED:
            return FINISHED
        return f"{self.status}, {self.made} of {self.expected} cells"


def this_runner() -> str:
    """The runner name of this process: `<host>-<pid>`."""
    return f"{HOSTNAME}-{os.getpid()}"


def runner_alive(runner: str | None, heartbeat_at: datetime | None) -> bool:
    """Whether the process named `runner` is still making cells."""
    if not runner:
        return False
    host, _, pid = runner.rpartition("-")
    alive = owner_alive(host, int(pid)) if pid.isdigit() else None
    if alive is not None:
        return alive
    if heartbeat_at is None:
        return False
    return datetime.now(timezone.utc) - heartbeat_at < timedelta(seconds=RUN_TIMEOUT_S)


def grid_positions(seeds: int, variants: int, axis_values: int) -> list[Position]:
    """Every cell of a grid, row by row, then axis column, then variant (the plan's order);
    `axis_values` is 1 for a grid without a second axis."""
    return [
        (s, v, a) for s in range(seeds) for a in range(max(axis_values, 1)) for v in range(variants)
    ]


def experiment_state(
    expected: Iterable[Position],
    made: Iterable[Position],
    runner: str | None,
    heartbeat_at: datetime | None,
) -> ExperimentState:
    """The state of an experiment whose grid is `expected` and whose cells `made` exist."""
    wanted = set(expected)
    done = len(wanted & set(made))
    if runner_alive(runner, heartbeat_at):
        return ExperimentState(RUNNING, done, len(wanted))
    if done >= len(wanted):
        return ExperimentState(FINISHED, done, len(wanted))
    return ExperimentState(INTERRUPTED, done, len(wanted))
