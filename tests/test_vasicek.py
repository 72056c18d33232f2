"""Vasicek validation through the model (model.md section 4), from the scenario file.

``scenarios/vasicek_validation.toml`` switches behaviour off (homogeneous PD, every applicant
funded, one yearly cohort of 12-month loans). Across replications the annual default rate
must then follow Vasicek's distribution with mean ``credit.pd`` and correlation
``credit.rho``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import sim
from sim.credit_risk import conditional_pd, vasicek_cdf, vasicek_ppf
from sim.experiments.replications import run_replications
from sim.ledger import FLOW_KINDS

POINTS = [(0.02, 0.15), (0.05, 0.08)]
N_FIRMS = 10_000
REPLICATIONS = 200
ALPHA = 0.01
SEED = 20240917
POWER_SIMULATIONS = 2000

# Z grid for the quadratures over the systematic factor (spacing 0.008, far finer than the
# width ~0.07 in Z of the binomial step at N = 10,000)
Z = np.linspace(-8.0, 8.0, 2001)
WZ = stats.norm.pdf(Z) / stats.norm.pdf(Z).sum()


def _load(path, pd, rho, n=N_FIRMS, **extra):
    return sim.load_scenario(
        path, overrides={"credit.pd": pd, "credit.rho": rho, "run.n_smes": n, **extra}
    )


@pytest.fixture(scope="module", params=POINTS, ids=[f"pd{p}-rho{r}" for p, r in POINTS])
def validation_run(request, vasicek_scenario_path):
    """(pd, rho, default rates of REPLICATIONS model replications) at one (PD, rho) point."""
    pd, rho = request.param
    sc = _load(vasicek_scenario_path, pd, rho)
    res = run_replications(sc, replications=REPLICATIONS, seed=SEED, timeseries=False)
    x = res.summary["default_rate"].to_numpy(dtype=float)
    assert x.shape == (REPLICATIONS,)
    assert np.all(np.isfinite(x)) and np.all((x >= 0) & (x <= 1))
    assert np.unique(x).size > REPLICATIONS // 2  # replications really differ
    return pd, rho, x


def _ks_statistic(samples: np.ndarray, pd: float, rho: float) -> np.ndarray:
    """Two-sided one-sample KS statistic of each row of ``samples`` against Vasicek(pd, rho)."""
    x = np.sort(samples, axis=-1)
    n = x.shape[-1]
    f = vasicek_cdf(x, pd, rho)
    i = np.arange(1, n + 1)
    return np.maximum((i / n - f).max(axis=-1), (f - (i - 1) / n).max(axis=-1))


def _rejection_rate(pd0, rho0, pd1, rho1, rng) -> float:
    """Monte-Carlo probability that the KS test of H0 = Vasicek(pd0, rho0), alpha = ALPHA,
    REPLICATIONS draws, rejects when the draws come from Vasicek(pd1, rho1)."""
    draws = conditional_pd(pd1, rho1, rng.standard_normal((POWER_SIMULATIONS, REPLICATIONS)))
    d = _ks_statistic(draws, pd0, rho0)
    return float(np.mean(stats.kstwo.sf(d, REPLICATIONS) < ALPHA))


# ============================================================================ scenario
def test_validation_scenario_switches_behaviour_off(vasicek_scenario_path):
    """The scenario file sets the validation design, and in month 1 every firm gets a direct
    12-month loan (no rationing, no guarantees, no exits)."""
    sc = _load(vasicek_scenario_path, 0.02, 0.15, n=2000)
    assert sc["demand.mode"] == "annual_cohort"
    assert sc["loans.term_months"] == 12
    assert sc["credit.pd_dispersion"] == 0.0
    assert sc["credit.correlation"] == "fixed"
    assert sc["credit.rho_sector"] == 0.0
    assert sc["credit.guarantee_uplift"] == 0.0
    assert sc["run.burn_in"] == 0 and sc["run.horizon"] == 12
    model = sim.GuaranteeMarket(sc, rng=SEED)
    model.step()
    s = model.smes
    assert model.record["new_loans"] == pytest.approx(2000 * model.weight)
    assert model.record["new_guaranteed_loans"] == 0.0
    assert model.record["rejected_amount"] == 0.0
    assert np.all(s.pd == 0.02)
    assert np.all(s.rho == 0.15)
    # loan_maturity is the last month of the loan: months 1..12 for a loan booked in month 1
    assert np.all(s.loan_maturity[s.has_loan] - s.loan_start[s.has_loan] == 11)


# ============================================================================ distribution
def test_mean_default_rate_is_pd(validation_run):
    """Mean default rate over 200 replications lies in the 99% confidence interval of PD.

    Two-sided z-interval with the analytic variance of the default rate: Vasicek's
    ``Var = E[p(Z)^2] - PD^2`` plus the binomial term ``E[p(Z)(1 - p(Z))] / N``, both by
    quadrature over Z; alpha = 0.01, R = 200.
    """
    pd, rho, x = validation_run
    p = conditional_pd(pd, rho, Z)
    var = WZ @ p**2 - pd**2 + WZ @ (p * (1 - p)) / N_FIRMS
    half = stats.norm.ppf(1 - ALPHA / 2) * np.sqrt(var / REPLICATIONS)
    assert abs(x.mean() - pd) <= half, (x.mean(), pd, half)


def test_default_rate_distribution_is_vasicek(validation_run):
    """One-sample Kolmogorov-Smirnov test of the 200 replications' annual default rate against
    the analytic Vasicek CDF (exact two-sided p-value) does not reject at alpha = 0.01.

    Power (asserted in ``test_ks_power_against_misspecified_alternatives``), R = 200,
    alpha = 0.01, 2000 Monte-Carlo samples of the analytic distribution (size 0.008 at both
    points): PD 2%, rho 0.15: rho halved 0.998, PD x 1.5 0.999 (rho x 1.5 0.83, PD x 1.25 0.66);
    PD 5%, rho 0.08: rho halved 0.92, PD x 1.5 1.00 (rho x 1.5 0.41, PD x 1.25 0.98).
    """
    pd, rho, x = validation_run
    res = stats.kstest(x, lambda v: vasicek_cdf(v, pd, rho))
    assert res.pvalue >= ALPHA, (res.statistic, res.pvalue)


@pytest.mark.parametrize(("pd", "rho"), POINTS)
def test_defaults_given_the_drawn_factor_are_binomial(vasicek_scenario_path, pd, rho):
    """Conditional on the year's drawn factor Z, the number of defaults among the N loans of
    the cohort is Binomial(N, p(Z)) with p(Z) = conditional_pd(PD, rho, Z).

    Randomised probability integral transform of each replication's default count (exact
    under H0 for a discrete distribution), then a one-sample KS test against U(0, 1) at
    alpha = 0.01 over 40 replications. Sharper than the unconditional KS test: an engine that
    inflates p(Z) by 1/12 (a 13th monthly draw) is rejected with p < 1e-4 (checked by
    mutation at PD 2%, rho 0.15).
    """
    rng = np.random.default_rng(SEED + 1)
    u = []
    for k in range(40):
        model = sim.GuaranteeMarket(_load(vasicek_scenario_path, pd, rho), rng=SEED * 100 + k)
        model.step()
        z = model.record["z"]
        n = round(model.record["new_loans"] / model.weight)
        model.run()
        defaults = round(model.totals["defaults_direct"] / model.weight)
        assert n == N_FIRMS
        p = float(conditional_pd(pd, rho, z))
        lower = stats.binom.cdf(defaults - 1, n, p)
        u.append(lower + rng.random() * stats.binom.pmf(defaults, n, p))
    res = stats.kstest(u, "uniform")
    assert res.pvalue >= ALPHA, (res.statistic, res.pvalue)


@pytest.mark.parametrize(("pd", "rho"), POINTS)
def test_ks_power_against_misspecified_alternatives(pd, rho):
    """Power of the KS test above (R = 200, alpha = 0.01) by Monte-Carlo sampling of the analytic
    Vasicek distribution (2000 samples each): >= 0.8 when rho is halved and when PD is 1.5 x
    too high; the size under the null is about alpha (<= 0.03)."""
    rng = np.random.default_rng(SEED)
    size = _rejection_rate(pd, rho, pd, rho, rng)
    power_rho = _rejection_rate(pd, rho, pd, rho / 2, rng)
    power_pd = _rejection_rate(pd, rho, pd * 1.5, rho, rng)
    assert size <= 0.03, size
    assert power_rho >= 0.8, power_rho
    assert power_pd >= 0.8, power_pd


@pytest.mark.parametrize(("pd", "rho"), POINTS)
def test_binomial_noise_is_negligible_at_10000_firms(pd, rho):
    """KS distance between the Vasicek CDF and the exact finite-N mixture
    ``P(D/N <= x) = E_Z[BinomCDF(floor(N x); N, p(Z))]`` (quadrature over Z, N = 10,000) is
    < 0.03 and under a quarter of the KS critical value at R = 200 (~0.115), so the model's
    finite portfolio cannot drive the KS test."""
    k = np.arange(int(N_FIRMS * vasicek_ppf(1 - 1e-6, pd, rho)) + 50)
    p = conditional_pd(pd, rho, Z)
    mixture = special.bdtr(k[:, None], N_FIRMS, p[None, :]) @ WZ
    assert mixture[-1] == pytest.approx(1.0, abs=1e-5)
    analytic = vasicek_cdf(k / N_FIRMS, pd, rho)
    left = np.r_[0.0, mixture[:-1]]  # the step function just below each jump
    distance = max(np.abs(mixture - analytic).max(), np.abs(left - analytic).max())
    crit = stats.kstwo.ppf(1 - ALPHA, REPLICATIONS)
    assert distance < 0.03, distance
    assert distance < crit / 4, (distance, crit)


# ============================================================================ loan timing
def _cohort_run(path, term):
    """One cohort (month 1) of ``term``-month loans with (practically) no defaults, run for 12
    months (before the next yearly cohort). Returns the loans, the monthly default draws each
    faced, the loan-months recorded at risk, the interest paid and one month's interest due."""
    sc = _load(path, 1e-5, 0.15, n=2000, **{"loans.term_months": term})
    model = sim.GuaranteeMarket(sc, rng=SEED)
    s = model.smes
    draws = np.zeros(s.n, int)
    process_defaults = model.process_defaults

    def counting_defaults():
        draws[(s.hazard > 0) & (s.loan_start == 1)] += 1  # loans this month's draw can hit
        process_defaults()

    model.process_defaults = counting_defaults
    model.step()
    n_loans = int(s.has_loan.sum())
    monthly_interest = float((s.loan_amount * s.loan_rate)[s.has_loan].sum() * model.weight / 12)
    loan_months = model.record["loan_months_direct"]
    interest = model.ledger.month[FLOW_KINDS.index("interest")].sum()
    defaults = model.record["defaults_direct"]
    for _ in range(11):
        model.step()
        loan_months += model.record["loan_months_direct"]
        interest += model.ledger.month[FLOW_KINDS.index("interest")].sum()
        defaults += model.record["defaults_direct"]
    assert n_loans == 2000 and defaults == 0.0  # precondition: the cohort is intact
    assert not s.has_loan.any()  # every loan has matured
    return model, n_loans, draws, loan_months / model.weight, interest / monthly_interest


@pytest.mark.parametrize("term", [3, 6])
def test_loan_faces_one_default_draw_per_month_of_term(vasicek_scenario_path, term):
    """A loan of term T months is exposed to exactly T monthly default draws (and T loan-months
    at risk are recorded), as the monthly hazard h = 1 - (1 - PD)^(1/12) assumes: twelve draws
    per year, not thirteen."""
    _, n, draws, loan_months, _ = _cohort_run(vasicek_scenario_path, term)
    assert np.all(draws == term), np.unique(draws)
    assert loan_months / n == pytest.approx(term)


@pytest.mark.parametrize("term", [3, 6])
def test_loan_pays_interest_for_its_term(vasicek_scenario_path, term):
    """A loan of term T months accrues exactly T months of interest (interest paid / one
    month's interest = T)."""
    *_, months_of_interest = _cohort_run(vasicek_scenario_path, term)
    assert months_of_interest == pytest.approx(term)
