"""Experimental designs of a sweep (grid, Latin hypercube, Sobol, Morris) and the
check of a design's size (runs and estimated memory) before any point is made."""

from __future__ import annotations

import functools
import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sim.scenario import (
    ScenarioError,
)

DESIGNS = ("grid", "lhs", "sobol", "morris")


# ============================================================================ designs
@dataclass(frozen=True)
class Design:
    """An experimental design over named factors.

    Attributes
    ----------
    names : tuple of str
    bounds : tuple of (low, high)
        For sampled designs (lhs, sobol, morris).
    method : {"grid", "lhs", "sobol", "morris"}
    samples : int
        lhs: points; sobol: base samples N (N (d + 2) points); morris: trajectories.
    seed : int
    values : tuple of tuples, optional
        Grid values per factor.
    levels : int
        Morris grid levels.
    """

    names: tuple[str, ...]
    method: str
    bounds: tuple[tuple[float, float], ...] = ()
    values: tuple[tuple, ...] = ()
    samples: int = 0
    seed: int = 0
    levels: int = 4

    def problem(self) -> dict:
        """The SALib problem dictionary."""
        return {"num_vars": len(self.names), "names": list(self.names), "bounds": list(self.bounds)}

    def matrix(self) -> list[tuple]:
        """Design points, one tuple of factor values per point (natural units).

        Computed once per design (loading, planning and analysing a sweep all ask for it).
        """
        return list(self._points)

    @functools.cached_property
    def _points(self) -> tuple[tuple, ...]:
        return tuple(self._sample())

    def _sample(self) -> list[tuple]:
        if self.method == "grid":
            return [tuple(p) for p in itertools.product(*self.values)]
        if self.method == "lhs":
            from scipy.stats import qmc

            u = qmc.LatinHypercube(d=len(self.names), seed=self.seed).random(self.samples)
            lo = np.array([b[0] for b in self.bounds])
            hi = np.array([b[1] for b in self.bounds])
            return [tuple(map(float, row)) for row in qmc.scale(u, lo, hi)]
        if self.method == "sobol":
            from SALib.sample import sobol

            x = sobol.sample(self.problem(), self.samples, calc_second_order=False, seed=self.seed)
            return [tuple(map(float, row)) for row in x]
        if self.method == "morris":
            from SALib.sample import morris

            x = morris.sample(self.problem(), self.samples, num_levels=self.levels, seed=self.seed)
            return [tuple(map(float, row)) for row in x]
        raise ValueError(f"unknown design {self.method!r}")


class _Range(NamedTuple):
    """A grid range ``{ low, high, levels }``, spread only after the design size is checked."""

    low: float
    high: float
    levels: int
    kind: str

    def spread(self) -> tuple:
        grid = np.linspace(self.low, self.high, self.levels)
        return tuple(int(round(x)) if self.kind == "int" else float(x) for x in grid)


#: Most runs (design points x replications) a sweep may plan.
MAX_RUNS = 1_000_000
#: Largest seed (as ``--seed``).
MAX_SEED = 2**63 - 1
#: Estimated memory of a sweep: per design point (its resolved scenario), per run (its
#: spec and merged summary row), per reported month of a run (its row of the merged
#: series, held twice while merging). Measured on the 2022 scenario, rounded up.
POINT_BYTES = 8 * 1024
RUN_BYTES = 8 * 1024
MONTH_BYTES = 1280


#: Memory limits of a control group (v2, v1), lower than the machine's in a container.
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit() -> int:
    """Largest estimated memory a sweep may need: half of this machine's memory, or of
    this process's control-group limit where lower (16 GiB where neither can be read)."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for name in CGROUP_LIMITS:
        try:
            sizes.append(int(Path(name).read_text().strip()))
        except (OSError, ValueError):  # absent, or "max"
            pass
    return min(sizes, default=32 << 30) // 2


def _bytes(n: int) -> str:
    """A size in bytes, KiB, ..., PiB; whole PiB above 1024 PiB (exact, however large)."""
    if n >= 1024**6:  # a float would overflow for the sizes of absurd designs
        return f"{int(n) // 1024**5:,} PiB"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def design_points(method: str, counts: list[int], samples: int) -> int:
    """Number of design points, computed without sampling anything.

    grid: the product of the level counts; lhs: ``samples``; sobol (first and total
    order): ``samples * (d + 2)``; morris: ``samples * (d + 1)`` (``d`` factors).
    """
    d = len(counts)
    if method == "grid":
        return math.prod(counts)
    return samples * {"lhs": 1, "sobol": d + 2, "morris": d + 1}[method]


def check_design_size(src, method, names, values, samples, reps, base, bounds) -> None:
    """Refuse a design above :data:`MAX_RUNS` runs or :func:`memory_limit` estimated
    memory, before any point is made; the message gives the figures."""
    counts = [v.levels if isinstance(v, _Range) else len(v) for v in values]
    points = design_points(method, counts, samples)
    runs = points * reps
    months = base["run.horizon"]
    if "run.horizon" in names:
        i = names.index("run.horizon")
        v = values[i]
        months = max(months, v.high if isinstance(v, _Range) else max(v, default=0))
        if method != "grid":
            months = max(months, bounds[i][1])
    need = points * POINT_BYTES + runs * (RUN_BYTES + int(months) * MONTH_BYTES)
    limit = memory_limit()
    if runs <= MAX_RUNS and need <= limit:
        return
    if method == "grid":
        how = " x ".join(f"{n} {c:,} levels" for n, c in zip(names, counts, strict=True))
    else:
        how = f"samples = {samples:,} over {len(names)} parameters"
    raise ScenarioError(
        f"{src}: design = {method!r}: {points:,} design points ({how}) x replications = "
        f"{reps:,}: {runs:,} runs, estimated {_bytes(need)} of memory; allowed: at most "
        f"{MAX_RUNS:,} runs and {_bytes(limit)} (half this machine's memory)"
    )
