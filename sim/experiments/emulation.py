"""Gaussian-process emulators and sampling inside a region, for history matching.

Two small pieces of :mod:`sim.experiments.ensemble`'s method that stand on their own:
:class:`Emulator` (a linear regression plus a Gaussian process on its residuals, predicting
the *mean* output of a stochastic simulator from points with known Monte-Carlo variance) and
:func:`sample_region` (points uniform over a region of the unit box, by random-walk
Metropolis).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["Emulator", "sample_region"]


class Emulator:
    """Linear regression plus a Gaussian process on its residuals, for one output.

    Inputs are unit-scale coordinates; ``noise`` is each training point's known
    Monte-Carlo variance (the GP's ``alpha``), so predictions are of the *mean* output.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, noise: np.ndarray, seed: int = 0):
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern

        self.x = np.asarray(x, float)
        y = np.asarray(y, float)
        design = np.column_stack([np.ones(len(x)), self.x])
        self.beta, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ self.beta
        self.scale = float(resid.std()) or 1.0
        d = self.x.shape[1]
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
            length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
        )
        alpha = np.maximum(np.asarray(noise, float) / self.scale**2, 1e-8)
        self.gp = GaussianProcessRegressor(
            kernel, alpha=alpha, normalize_y=False, n_restarts_optimizer=1, random_state=seed
        )
        with warnings.catch_warnings():  # length scales at their bounds: flat directions
            warnings.simplefilter("ignore")
            self.gp.fit(self.x, resid / self.scale)
        self.y = y

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of the mean output at ``x``."""
        x = np.asarray(x, float)
        mean, std = self.gp.predict(x, return_std=True)
        lin = np.column_stack([np.ones(len(x)), x]) @ self.beta
        return lin + mean * self.scale, (std * self.scale) ** 2

    def loo_standardised_errors(self) -> np.ndarray:
        """Exact leave-one-out standardised errors of the GP (hyperparameters fixed):
        ``r_i = [K^-1 y]_i / sqrt([K^-1]_ii)`` (Rasmussen & Williams 2006, §5.4.2)."""
        kinv = np.linalg.inv(self.gp.kernel_(self.x) + np.diag(np.atleast_1d(self.gp.alpha)))
        a = kinv @ self.gp.y_train_
        return a / np.sqrt(np.diag(kinv))


def sample_region(
    starts: np.ndarray, inside: Callable[[np.ndarray], np.ndarray], steps: int, rng
) -> tuple[np.ndarray, float]:
    """Draw points uniformly over a region of the unit box by random-walk Metropolis.

    One chain per row of ``starts`` (points inside the region). On the unit scale of the
    priors' quantile functions the prior is uniform, so the target density is constant on
    the region and a move is accepted exactly when it stays inside; proposals are
    Gaussian steps of a quarter of the starts' spread in each dimension, reflected at the
    box's faces (a symmetric proposal, so the chain leaves the uniform distribution
    invariant).

    Parameters
    ----------
    starts : ndarray, shape (chains, d)
    inside : callable
        ``inside(u)`` -> bool array: which rows of ``u`` are in the region.
    steps : int
        Moves per chain.
    rng : numpy.random.Generator

    Returns
    -------
    states : ndarray, shape (chains, d)
        Each chain's last state.
    acceptance : float
        The share of moves accepted.
    """
    x = np.array(starts, float)
    step = np.maximum(0.25 * (x.std(axis=0) if len(x) > 1 else 0.1), 0.005)
    moved = 0
    for _ in range(steps):
        prop = np.abs(x + rng.normal(size=x.shape) * step)
        prop = np.where(prop > 1.0, 2.0 - prop, prop)
        ok = inside(prop)
        x[ok] = prop[ok]
        moved += int(ok.sum())
    return x, moved / max(steps * len(x), 1)
