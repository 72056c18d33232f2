"""Prior distributions of parameters: what a sampler may draw a parameter from.

Every lever strength of the registry carries a :class:`Prior` beside its default and
its allowed range: a distribution over stated bounds that says what the evidence (or its
absence) allows. Samplers (Latin hypercubes, ensembles) draw from it through its
quantile function :meth:`Prior.ppf`, so a design on ``[0, 1]^d`` maps onto the priors.

Distributions: ``uniform`` and ``loguniform`` over ``[low, high]``, ``beta(a, b)``
rescaled to ``[low, high]``, ``truncnorm(mean, sd)`` truncated to ``[low, high]``, and
``switch`` for a policy switch (true/false or a choice), drawn uniformly among its
values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Prior", "uniform", "loguniform", "beta", "truncnorm", "SWITCH"]

DISTRIBUTIONS = ("uniform", "loguniform", "beta", "truncnorm", "switch")


@dataclass(frozen=True)
class Prior:
    """A distribution a sampler can draw a parameter from.

    Attributes
    ----------
    dist : {"uniform", "loguniform", "beta", "truncnorm", "switch"}
    low, high : float, optional
        Bounds of the support (not used by ``switch``).
    mean, sd : float, optional
        Location and scale of ``truncnorm`` (before truncation).
    a, b : float, optional
        Shapes of ``beta`` (on ``[low, high]``).
    """

    dist: str
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    a: float | None = None
    b: float | None = None

    def __post_init__(self):
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown prior {self.dist!r}; one of {', '.join(DISTRIBUTIONS)}")
        if self.dist == "switch":
            return
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"{self.dist} prior needs low < high, got [{self.low}, {self.high}]")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError("loguniform prior needs low > 0")
        if self.dist == "beta" and not (self.a and self.b and self.a > 0 and self.b > 0):
            raise ValueError("beta prior needs shapes a > 0 and b > 0")
        if self.dist == "truncnorm" and not (self.sd and self.sd > 0 and self.mean is not None):
            raise ValueError("truncnorm prior needs a mean and sd > 0")

    def ppf(self, q) -> np.ndarray:
        """Quantile function: the values at probabilities ``q`` in [0, 1].

        For ``switch`` it returns the index (0, 1, ...) of the value among ``n`` choices
        only through :meth:`choose`; calling ``ppf`` on a switch is an error.
        """
        from scipy import stats

        q = np.asarray(q, dtype=float)
        lo, hi = self.low, self.high
        if self.dist == "uniform":
            x = lo + q * (hi - lo)
        elif self.dist == "loguniform":
            x = np.exp(np.log(lo) + q * (np.log(hi) - np.log(lo)))
        elif self.dist == "beta":
            x = lo + (hi - lo) * stats.beta.ppf(q, self.a, self.b)
        elif self.dist == "truncnorm":
            a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
            x = stats.truncnorm.ppf(q, a, b, loc=self.mean, scale=self.sd)
        else:
            raise ValueError("a switch has no quantile function; use choose()")
        return np.clip(x, lo, hi)  # rounding at the ends stays inside the support

    def cdf(self, x) -> np.ndarray:
        """Distribution function: the prior probability below ``x`` (the inverse of
        :meth:`ppf`); not defined for a switch."""
        from scipy import stats

        x = np.clip(np.asarray(x, dtype=float), self.low, self.high)
        lo, hi = self.low, self.high
        if self.dist == "uniform":
            q = (x - lo) / (hi - lo)
        elif self.dist == "loguniform":
            q = (np.log(x) - np.log(lo)) / (np.log(hi) - np.log(lo))
        elif self.dist == "beta":
            q = stats.beta.cdf((x - lo) / (hi - lo), self.a, self.b)
        elif self.dist == "truncnorm":
            a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
            q = stats.truncnorm.cdf(x, a, b, loc=self.mean, scale=self.sd)
        else:
            raise ValueError("a switch has no distribution function")
        return np.clip(q, 0.0, 1.0)

    def choose(self, q, values) -> list:
        """For a ``switch``: the value among ``values`` at probabilities ``q`` (uniform)."""
        n = len(values)
        idx = np.minimum((np.asarray(q, dtype=float) * n).astype(int), n - 1)
        return [values[i] for i in np.atleast_1d(idx)]

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the prior's support."""
        if self.dist == "switch":
            return True
        return self.low - 1e-12 <= value <= self.high + 1e-12

    def __str__(self) -> str:
        f = _fmt
        if self.dist == "uniform":
            return f"U[{f(self.low)}, {f(self.high)}]"
        if self.dist == "loguniform":
            return f"LogU[{f(self.low)}, {f(self.high)}]"
        if self.dist == "beta":
            return f"Beta({f(self.a)}, {f(self.b)}) on [{f(self.low)}, {f(self.high)}]"
        if self.dist == "truncnorm":
            return f"N({f(self.mean)}, {f(self.sd)}) on [{f(self.low)}, {f(self.high)}]"
        return "switch (uniform over its values)"

    def to_dict(self) -> dict:
        """Plain-dict form (for JSON)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:g}" if math.isfinite(x) else str(x)


def uniform(low: float, high: float) -> Prior:
    """Uniform on ``[low, high]``."""
    return Prior("uniform", low, high)


def loguniform(low: float, high: float) -> Prior:
    """Log-uniform on ``[low, high]`` (``low > 0``)."""
    return Prior("loguniform", low, high)


def beta(a: float, b: float, low: float = 0.0, high: float = 1.0) -> Prior:
    """Beta(a, b) rescaled to ``[low, high]``."""
    return Prior("beta", low, high, a=a, b=b)


def truncnorm(mean: float, sd: float, low: float, high: float) -> Prior:
    """Normal(mean, sd) truncated to ``[low, high]``."""
    return Prior("truncnorm", low, high, mean=mean, sd=sd)


#: A policy switch: true/false or a choice, drawn uniformly among its values.
SWITCH = Prior("switch")
