"""Sensitivity analysis of sweep results: Sobol and Morris indices (SALib).

Indices are computed on the mean over replications of each design point (the
replications of a point share nothing but their parameters; their mean is the
model's expected outcome at that point, up to Monte-Carlo noise).

- Sobol (Saltelli's scheme): first-order ``S1`` and total-order ``ST`` indices
  with bootstrap confidence intervals (``S1_conf``, ``ST_conf``, half-widths at
  the 95% level).
- Morris elementary effects: ``mu_star`` (with ``mu_star_conf``) and ``sigma``.

References
----------
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output.
*Computer Physics Communications* 181(2). Morris, M. D. (1991). Factorial sampling
plans for preliminary computational experiments. *Technometrics* 33(2).
Herman, J. & Usher, W. (2017). SALib. *JOSS* 2(9).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .sweeps import Design

__all__ = ["point_means", "analyze", "sensitivity_figure", "write_sensitivity"]


def point_means(summary: pd.DataFrame, outcome: str, n_points: int) -> np.ndarray:
    """Mean of ``outcome`` over the successful replications of each design point.

    Raises
    ------
    ValueError
        If a point has no successful run (the indices need every point).
    """
    ok = summary[summary["status"] == "ok"] if "status" in summary else summary
    means = ok.groupby("point")[outcome].mean().reindex(range(n_points))
    missing = np.flatnonzero(~np.isfinite(means.to_numpy(dtype=float)))
    if missing.size:
        raise ValueError(
            f"{outcome}: design point {int(missing[0])} has no successful run with a finite value "
            f"({missing.size} such points); rerun with --resume or drop this outcome"
        )
    return means.to_numpy(dtype=float)


def analyze(design: Design, x: np.ndarray, y: np.ndarray, outcome: str, seed: int = 0):
    """Sensitivity indices of one outcome.

    Parameters
    ----------
    design : Design
        A ``sobol`` or ``morris`` design.
    x : ndarray, shape (n_points, n_factors)
        The design matrix (natural units).
    y : ndarray, shape (n_points,)
        The outcome at each point.
    outcome : str
        Name stored in the result.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per factor.
    """
    problem = design.problem()
    # SALib treats seed 0 as "no seed" (unseeded bootstrap): derive a non-zero one
    seed = int(np.random.SeedSequence(seed).generate_state(1)[0]) or 1
    if design.method == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, conf_level=0.95, seed=seed)
        return pd.DataFrame(
            {
                "outcome": outcome,
                "parameter": design.names,
                "method": "sobol",
                "S1": res["S1"],
                "S1_conf": res["S1_conf"],
                "ST": res["ST"],
                "ST_conf": res["ST_conf"],
            }
        )
    if design.method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, conf_level=0.95, num_levels=design.levels, seed=seed)
        return pd.DataFrame(
            {
                "outcome": outcome,
                "parameter": design.names,
                "method": "morris",
                "mu_star": res["mu_star"],
                "mu_star_conf": res["mu_star_conf"],
                "sigma": res["sigma"],
            }
        )
    raise ValueError(f"sensitivity analysis needs a sobol or morris design, not {design.method!r}")


def sensitivity_figure(table: pd.DataFrame):
    """Bar chart of the indices per outcome (total and first order, or mu* and sigma)."""
    from matplotlib.figure import Figure  # without pyplot: the backend is left alone

    outcomes = list(dict.fromkeys(table["outcome"]))
    rows = len(table[table["outcome"] == outcomes[0]])
    fig = Figure(figsize=(5 * len(outcomes), 0.5 + 0.45 * rows + 1.5))
    axes = fig.subplots(1, len(outcomes), squeeze=False)
    for ax, o in zip(axes[0], outcomes, strict=True):
        t = table[table["outcome"] == o].reset_index(drop=True)
        yy = np.arange(len(t))
        if t["method"].iloc[0] == "sobol":
            ax.barh(yy - 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total order ST")
            ax.barh(yy + 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="first order S1")
            ax.set_xlabel("Sobol index (95% CI)")
        else:
            ax.barh(yy - 0.2, t["mu_star"], 0.4, xerr=t["mu_star_conf"], label="mu*")
            ax.barh(yy + 0.2, t["sigma"], 0.4, label="sigma")
            ax.set_xlabel("Morris elementary effect (outcome units)")
        ax.set_yticks(yy, t["parameter"])
        ax.invert_yaxis()
        ax.set_title(o)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle("Which parameters matter")
    fig.tight_layout()
    return fig


#: The files :func:`write_sensitivity` writes (``gsim sensitivity``).
SENSITIVITY_FILES = ("sensitivity.parquet", "sensitivity.csv", "sensitivity.png")


def write_sensitivity(table: pd.DataFrame, folder) -> list[Path]:
    """Write the indices of :meth:`sim.SweepResult.sensitivity` as ``gsim sensitivity`` does.

    Parameters
    ----------
    table : pandas.DataFrame
        The indices, one row per (outcome, parameter).
    folder : str or Path
        An existing folder (the sweep's).

    Returns
    -------
    list of Path
        ``sensitivity.parquet`` (with the columns' units), ``sensitivity.csv`` and
        ``sensitivity.png`` (:func:`sensitivity_figure`), each written atomically.
    """
    from sim.outputs import atomic_path, write_parquet
    from sim.outputs import save_figure as save

    paths = [Path(folder) / name for name in SENSITIVITY_FILES]
    write_parquet(table, paths[0])
    with atomic_path(paths[1]) as tmp:
        table.to_csv(tmp, index=False)
    save(sensitivity_figure(table), paths[2])
    return paths
