"""Unit tests of the Vasicek default engine and Basel correlations in :mod:`sim.credit_risk`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from sim.credit_risk import (
    annual_rate,
    basel_corporate_correlation,
    basel_retail_correlation,
    conditional_pd,
    monthly_hazard,
    vasicek_cdf,
    vasicek_ppf,
)

PD_RHO = [(0.02, 0.15), (0.05, 0.08), (0.003, 0.24), (0.2, 0.03), (0.01, 0.5)]


# ---------------------------------------------------------------------------- Vasicek
@pytest.mark.parametrize(("q", "expected"), [(0.5, 0.0130), (0.99, 0.1056), (0.999, 0.1763)])
def test_vasicek_quantiles_match_calibration_example(q, expected):
    """calibration.md: PD 2%, rho 0.15 -> median 1.30%, 99% 10.56%, 99.9% 17.63% (4 decimals)."""
    assert round(float(vasicek_ppf(q, 0.02, 0.15)), 4) == expected


@pytest.mark.parametrize(("pd", "rho"), PD_RHO)
def test_vasicek_quantile_is_conditional_pd_at_factor_quantile(pd, rho):
    """The q-quantile of the default rate is the conditional PD at Z = Phi^-1(1 - q)."""
    q = np.array([0.01, 0.1, 0.5, 0.9, 0.99, 0.999])
    np.testing.assert_allclose(
        vasicek_ppf(q, pd, rho), conditional_pd(pd, rho, stats.norm.ppf(1 - q)), rtol=1e-12
    )


@pytest.mark.parametrize(("pd", "rho"), PD_RHO)
def test_vasicek_cdf_and_ppf_are_inverse(pd, rho):
    """vasicek_cdf(vasicek_ppf(q)) == q and vasicek_ppf(vasicek_cdf(x)) == x."""
    q = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(vasicek_cdf(vasicek_ppf(q, pd, rho), pd, rho), q, rtol=1e-9)
    x = vasicek_ppf(np.linspace(0.01, 0.99, 50), pd, rho)
    np.testing.assert_allclose(vasicek_ppf(vasicek_cdf(x, pd, rho), pd, rho), x, rtol=1e-9)


@pytest.mark.parametrize(("pd", "rho"), PD_RHO)
def test_vasicek_cdf_is_a_distribution_with_mean_pd(pd, rho):
    """The CDF is 0 at 0, 1 at 1, non-decreasing, and its mean int_0^1 (1 - F) dx equals PD."""
    assert float(vasicek_cdf(0.0, pd, rho)) == 0.0
    assert float(vasicek_cdf(1.0, pd, rho)) == 1.0
    x = np.linspace(0.0, 1.0, 2001)
    assert np.all(np.diff(vasicek_cdf(x, pd, rho)) >= 0)
    mean, _ = integrate.quad(
        lambda v: 1.0 - vasicek_cdf(v, pd, rho), 0.0, 1.0, points=[pd], limit=200
    )
    assert mean == pytest.approx(pd, rel=1e-6)


@pytest.mark.parametrize(("pd", "rho"), PD_RHO)
def test_conditional_pd_averages_to_pd(pd, rho):
    """E_Z[conditional_pd(pd, rho, Z)] = pd, Z ~ N(0, 1) (scipy quad)."""
    val, _ = integrate.quad(
        lambda z: float(conditional_pd(pd, rho, z)) * stats.norm.pdf(z), -np.inf, np.inf
    )
    assert val == pytest.approx(pd, rel=1e-7)


@pytest.mark.parametrize(("pd", "rho", "rho_s"), [(0.02, 0.12, 0.03), (0.05, 0.08, 0.1)])
def test_conditional_pd_with_sector_factor_averages_to_pd(pd, rho, rho_s):
    """E_{Z, Z_s}[conditional_pd] = pd with a sector factor (2-D Gauss-Hermite, 120 nodes each),
    and integrating out Z_s alone gives the one-factor conditional PD with correlation rho."""
    x, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    zz, zs = np.meshgrid(x, x, indexing="ij")
    p = conditional_pd(pd, rho, zz, rho_s, zs)
    assert float(w @ p @ w) == pytest.approx(pd, rel=1e-8)
    np.testing.assert_allclose(p @ w, conditional_pd(pd, rho, x), rtol=1e-7)


def test_conditional_pd_is_decreasing_in_the_factor():
    """Bad years (low Z or Z_s) raise the conditional PD; Z = 0 gives the median."""
    z = np.linspace(-4, 4, 81)
    assert np.all(np.diff(conditional_pd(0.03, 0.12, z, 0.03, 0.0)) < 0)
    assert np.all(np.diff(conditional_pd(0.03, 0.12, 0.0, 0.03, z)) < 0)
    assert float(conditional_pd(0.02, 0.15, 0.0)) == pytest.approx(vasicek_ppf(0.5, 0.02, 0.15))


# ---------------------------------------------------------------------------- monthly
def test_monthly_hazard_compounds_to_annual_pd():
    """Twelve months of survival at the monthly hazard give back the annual PD."""
    p = np.array([1e-8, 1e-4, 0.003, 0.02, 0.1, 0.5, 0.9, 0.999])
    h = monthly_hazard(p)
    assert np.all((h > 0) & (h < p))
    np.testing.assert_allclose(-np.expm1(12.0 * np.log1p(-h)), p, rtol=1e-12)
    np.testing.assert_allclose(1.0 - (1.0 - h) ** 12, p, rtol=1e-6)
    assert float(monthly_hazard(0.0)) == 0.0


@pytest.mark.parametrize("p", [1e-6, 0.003, 0.02, 0.1, 0.5, 0.95])
@pytest.mark.parametrize("loan_months", [1e3, 123456.0])
def test_annual_rate_inverts_monthly_hazard(p, loan_months):
    """annual_rate(h * LM, LM) == p for h = monthly_hazard(p)."""
    h = float(monthly_hazard(p))
    assert annual_rate(h * loan_months, loan_months) == pytest.approx(p, rel=1e-10)


def test_annual_rate_edge_cases():
    """No loan-months gives NaN; zero defaults give 0; all defaulting gives 1."""
    assert np.isnan(annual_rate(0.0, 0.0))
    assert annual_rate(0.0, 100.0) == 0.0
    assert annual_rate(100.0, 100.0) == 1.0


# ---------------------------------------------------------------------------- Basel
def test_basel_corporate_correlation_limits():
    """Corporate R -> 0.24 as PD -> 0 and -> 0.12 for large PD, decreasing in between."""
    assert float(basel_corporate_correlation(1e-12)) == pytest.approx(0.24, abs=1e-9)
    assert float(basel_corporate_correlation(0.5)) == pytest.approx(0.12, abs=1e-9)
    assert float(basel_corporate_correlation(1.0)) == pytest.approx(0.12, abs=1e-12)
    pd = np.linspace(1e-4, 0.3, 200)
    r = basel_corporate_correlation(pd)
    assert np.all(np.diff(r) < 0)
    w = (1 - np.exp(-50 * 0.02)) / (1 - np.exp(-50))
    assert float(basel_corporate_correlation(0.02)) == pytest.approx(0.12 * w + 0.24 * (1 - w))


@pytest.mark.parametrize(
    ("sales", "adjustment"),
    [(0.5, 0.04), (5.0, 0.04), (27.5, 0.02), (50.0, 0.0), (500.0, 0.0)],
)
def test_basel_sme_size_adjustment(sales, adjustment):
    """The SME adjustment subtracts 0.04 at sales <= 5 EUR m, 0.02 at 27.5 and 0 at >= 50."""
    for pd in (0.001, 0.02, 0.2):
        plain = float(basel_corporate_correlation(pd))
        adj = float(basel_corporate_correlation(pd, sales))
        assert plain - adj == pytest.approx(adjustment, abs=1e-12)


def test_basel_retail_correlation_bounds():
    """Other-retail R lies in [0.03, 0.16]: 0.16 as PD -> 0, 0.03 for large PD."""
    assert float(basel_retail_correlation(1e-12)) == pytest.approx(0.16, abs=1e-9)
    assert float(basel_retail_correlation(1.0)) == pytest.approx(0.03, abs=1e-12)
    pd = np.linspace(0.0, 1.0, 501)
    r = basel_retail_correlation(pd)
    assert np.all((r >= 0.03 - 1e-12) & (r <= 0.16 + 1e-12))
    assert np.all(np.diff(r) <= 1e-15)
    assert np.all(np.diff(r[pd <= 0.3]) < 0)
