"""The banks (银行): screening, direct lending, referral to a guarantor, and the cost of
their screening."""

from __future__ import annotations

import numpy as np

from sim.applications import (
    DIRECT_ROUTE,
    GUARANTEE_ROUTE,
    REJECT,
    Applications,
    estimate_pd,
    screening_noise,
)

from .institution import Institution
from .terms import GUARANTOR_LED, guarantee_fee


class Bank(Institution):
    """A bank (银行) of one type, lending to the firms whose house bank it is.

    For each applicant it forms a noisy estimate of the PD and decides:

    1. **direct loan** if the expected loss it would carry alone,
       ``PD x LGD`` (with its collateral), is within ``bank.direct_el_tolerance``;
    2. else **refer to a guarantor** (the firm must meet the counter-guarantee
       requirement), and agree to lend if the expected loss on its retained share,
       ``s_bank x PD x LGD``, is within ``bank.guarantee_el_tolerance``;
    3. else **reject**.

    On guaranteed loans its screening effort falls with its retained share,
    ``effort = s_bank^moral_hazard``, and the noise of its estimate grows as
    ``effort^-1/2``: with nothing at stake the bank stops looking. The rate is
    funding cost + operating cost + a spread on the expected loss it retains,
    less funding relief when it shares at least ``bank.funding_relief_min_share`` (20%).
    """

    def __init__(self, model, index: int, kind: str, account: int):
        super().__init__(model, kind, account)
        self.index = index
        self.kind = kind

    @staticmethod
    def screen(banks: list[Bank], apps: Applications) -> None:
        """Decide route and rate for every applicant, by its house bank (fills ``apps``).

        All banks apply the same rule to their own applicants, so it is evaluated for
        every bank's applicants in one pass over the columns.

        The channel of a firm the bank would lend to directly is chosen by the bank and
        the firm (substitution): the bank steers a share ``bank.guarantee_substitution``
        of them to a guarantor anyway, and a firm takes the guaranteed route when its
        all-in cost there (rate, expected fee net of any fee subsidy) is lower than the
        direct rate by more than its own switching cost. A firm the bank will not lend
        to directly is referred to a guarantor with probability ``bank.referral_rate``,
        raised by ``bank.referral_uplift`` (measure 10), when it can meet the
        counter-guarantee requirement; else it is rejected.
        """
        if apps.n == 0:
            return
        m = banks[0].model
        p = m.params
        pd, eps, prior = apps.pd, apps.eps_bank, apps.prior_log
        aversion = p["information.uncertainty_aversion"]
        sigma = screening_noise(p["bank.screening_noise"], apps.first_time, p)
        tau = p["credit.pd_dispersion"]
        est, dec = estimate_pd(pd, eps, sigma, aversion, prior, tau)
        direct_ok = dec * apps.lgd_direct <= p["bank.direct_el_tolerance"]
        pledge_ok = apps.pledge_ok

        s_bank = m.shares.bank
        # screening effort on guaranteed loans ~ retained share^m, noise ~ effort^-1/2
        sigma_g = sigma * max(s_bank, 1e-6) ** (-0.5 * p["bank.moral_hazard"])
        est_g, dec_g = estimate_pd(pd, eps, sigma_g, aversion, prior, tau)
        lgd_g = apps.lgd_guaranteed
        funding_relief = (
            p["bank.funding_relief"]
            if s_bank >= p["bank.funding_relief_min_share"] - 1e-12
            else 0.0
        )
        # the funding relief (paid by the PBOC) can absorb expected loss: it raises
        # the bank's willingness to take its share
        ok_g = s_bank * dec_g * lgd_g <= p["bank.guarantee_el_tolerance"] + funding_relief
        base = p["bank.funding_cost"] + p["bank.operating_cost"]
        markup = p["bank.risk_markup"]
        rate_direct = base + markup * est * apps.lgd_direct
        rate_g = base - funding_relief + markup * s_bank * est_g * lgd_g

        # one persistent uniform per firm: below the steering share the bank steers a
        # direct-eligible firm to a guarantor; above it, its rescaled remainder sets the
        # firm's switching cost (exponential with mean demand.switching_cost); for a firm
        # the bank will not lend to directly it decides the referral
        u = apps.u_route
        steer = p["bank.guarantee_substitution"]
        steered = u < steer
        rest = np.clip((u - steer) / max(1.0 - steer, 1e-12), 1e-12, 1.0)
        switching = -p["demand.switching_cost"] * np.log(rest)
        fee = guarantee_fee(est_g, apps.relief_sector, p)
        fee -= m.government.expected_subsidy(fee, apps.small_micro)
        prefers_guarantee = rate_direct - (rate_g + fee) > switching
        substitute = direct_ok & pledge_ok & (steered | prefers_guarantee)
        direct = direct_ok & ~substitute
        referral = p["bank.referral_rate"]
        referral += p["bank.referral_uplift"] * (1.0 - referral)
        refer = substitute | (~direct_ok & pledge_ok & (u < referral))

        apps.route[:] = np.where(direct, DIRECT_ROUTE, np.where(refer, GUARANTEE_ROUTE, REJECT))
        apps.additional[:] = ~direct_ok
        apps.rate_direct[:] = rate_direct
        apps.rate[:] = np.where(direct, rate_direct, rate_g)
        apps.bank_ok_guaranteed[:] = ok_g
        apps.funding_relief[:] = np.where(direct, 0.0, funding_relief)

    @staticmethod
    def pay_for_screening(banks: list[Bank], apps: Applications) -> None:
        """Each bank pays ``bank.screening_cost`` per application it screened.

        Every application except those a guarantor approved for the bank in 见担即贷
        batch mode (``apps.bank_screened``).
        """
        m = banks[0].model
        apps.bank_screened = ~(apps.in_batch & (apps.batch_mode == GUARANTOR_LED))
        counts = np.bincount(apps.bank[apps.bank_screened], minlength=len(banks)) * m.weight
        m.ledger.transfer(
            "screening_cost",
            m.bank_accounts,
            m.acct["outside"],
            counts * m.params["bank.screening_cost"],
        )

    @staticmethod
    def fall_back(apps: Applications) -> None:
        """Offer a direct loan to the firms a guarantor declined that qualify for one.

        A firm steered to (or choosing) the guaranteed route although the bank would lend
        to it alone is not rationed when the guarantor declines: the bank lends directly.
        """
        back = (apps.route == GUARANTEE_ROUTE) & ~apps.approved & ~apps.additional
        apps.route[back] = DIRECT_ROUTE
        apps.rate[back] = apps.rate_direct[back]
        apps.funding_relief[back] = 0.0
        apps.fee[back] = 0.0
        apps.delay[back] = 0.0
