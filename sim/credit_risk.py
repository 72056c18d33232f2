"""Default risk: the one-factor Gaussian (Vasicek) model with a sector factor.

A firm with unconditional annual probability of default ``p`` defaults within a
year, given the year's systematic factor ``Z`` and its sector's factor ``Z_s``
(independent standard normals), with probability

.. math::

    p(Z, Z_s) = \\Phi\\left(\\frac{\\Phi^{-1}(p) - \\sqrt{\\rho} Z - \\sqrt{\\rho_s} Z_s}
                              {\\sqrt{1 - \\rho - \\rho_s}}\\right).

The factors are drawn once per model year; within the year a loan defaults
each month with the constant hazard ``h = 1 - (1 - p(Z, Z_s))^{1/12}``, so that
twelve months of survival reproduce the annual conditional PD exactly.
Averaged over ``Z`` (with ``rho_s = 0``) the annual default rate of a large
homogeneous portfolio follows Vasicek's distribution, with mean ``p``.

References
----------
Vasicek, O. (2002). The distribution of loan portfolio value. *Risk* 15(12).
Basel Committee (2006). International Convergence of Capital Measurement and
Capital Standards, paras. 272-273 (corporate correlation and SME firm-size
adjustment) and 330 (other retail).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = [
    "conditional_pd",
    "monthly_hazard",
    "annual_rate",
    "basel_corporate_correlation",
    "basel_retail_correlation",
    "vasicek_cdf",
    "vasicek_ppf",
]


def conditional_pd(pd, rho, z, rho_sector=0.0, z_sector=0.0):
    """Annual PD conditional on the systematic and sector factors.

    Parameters
    ----------
    pd : array_like
        Unconditional annual probability of default, in (0, 1).
    rho : array_like
        Asset correlation with the systematic factor, in [0, 1).
    z : array_like
        Systematic factor (standard normal; low values are bad years).
    rho_sector : array_like, optional
        Asset correlation with the sector factor; ``rho + rho_sector < 1``.
    z_sector : array_like, optional
        Sector factor.

    Returns
    -------
    ndarray
        Conditional annual PD.

    Examples
    --------
    >>> float(conditional_pd(0.02, 0.15, 0.0))  # the median year
    0.01295...
    """
    pd = np.asarray(pd, dtype=float)
    rho = np.asarray(rho, dtype=float)
    rho_sector = np.asarray(rho_sector, dtype=float)
    idio = np.sqrt(1.0 - rho - rho_sector)
    return ndtr((ndtri(pd) - np.sqrt(rho) * z - np.sqrt(rho_sector) * z_sector) / idio)


def monthly_hazard(annual_pd):
    """Monthly default hazard with the same one-year survival as ``annual_pd``.

    ``h = 1 - (1 - p)^(1/12)``, computed stably.
    """
    p = np.asarray(annual_pd, dtype=float)
    return -np.expm1(np.log1p(-p) / 12.0)


def annual_rate(defaults, loan_months):
    """Annualise a default count over loan-months at risk.

    The pooled monthly rate ``m = defaults / loan_months`` is annualised as
    ``1 - (1 - m)^12``, the inverse of :func:`monthly_hazard`. Returns NaN when
    there are no loan-months.
    """
    if loan_months <= 0:
        return float("nan")
    m = min(defaults / loan_months, 1.0)
    return float(-np.expm1(12.0 * np.log1p(-m))) if m < 1 else 1.0


def _basel_weight(pd, k):
    """``-expm1(-k pd) / -expm1(-k)`` as a new float array (0-d for a scalar), computed in
    place in that order (the same values, bit for bit, with no temporaries)."""
    w = np.array(pd, dtype=float)
    np.multiply(w, -k, out=w)
    np.expm1(w, out=w)
    np.negative(w, out=w)
    w /= -np.expm1(-k)
    return w


def _mix(w, low, high):
    """``low w + high (1 - w)``, in place in ``w`` (the same values, bit for bit)."""
    rest = np.subtract(1.0, w)
    rest *= high
    w *= low
    w += rest
    return w


def basel_corporate_correlation(pd, sales_eur_m=None):
    """Basel II corporate asset correlation, with the SME firm-size adjustment.

    ``R = 0.12 w + 0.24 (1 - w)``, ``w = (1 - e^{-50 PD}) / (1 - e^{-50})``, minus
    ``0.04 (1 - (S - 5) / 45)`` for firms with sales ``S`` (EUR million) below 50,
    with ``S`` floored at 5.

    Parameters
    ----------
    pd : array_like
        Annual PD.
    sales_eur_m : array_like, optional
        Annual sales in EUR million; ``None`` means no size adjustment.
    """
    r = _mix(_basel_weight(pd, 50.0), 0.12, 0.24)
    if sales_eur_m is not None:
        # r - 0.04 (1 - (S - 5) / 45), in place
        s = np.array(sales_eur_m, dtype=float)
        np.clip(s, 5.0, 50.0, out=s)
        s -= 5.0
        s /= 45.0
        np.subtract(1.0, s, out=s)
        s *= 0.04
        r -= s
    return r[()]


def basel_retail_correlation(pd):
    """Basel II 'other retail' asset correlation.

    ``R = 0.03 w + 0.16 (1 - w)``, ``w = (1 - e^{-35 PD}) / (1 - e^{-35})``.
    """
    return _mix(_basel_weight(pd, 35.0), 0.03, 0.16)[()]


def vasicek_cdf(x, pd, rho):
    """CDF of the Vasicek default-rate distribution.

    ``P(DR <= x) = Phi((sqrt(1 - rho) Phi^{-1}(x) - Phi^{-1}(pd)) / sqrt(rho))``.
    """
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        return ndtr((np.sqrt(1.0 - rho) * ndtri(x) - ndtri(pd)) / np.sqrt(rho))


def vasicek_ppf(q, pd, rho):
    """Quantile of the Vasicek default-rate distribution.

    ``DR_q = Phi((Phi^{-1}(pd) + sqrt(rho) Phi^{-1}(q)) / sqrt(1 - rho))``.

    Examples
    --------
    >>> round(float(vasicek_ppf(0.999, 0.02, 0.15)), 4)
    0.1763
    """
    return ndtr((ndtri(pd) + np.sqrt(rho) * ndtri(np.asarray(q, dtype=float))) / np.sqrt(1 - rho))
