"""The agents of the guarantee market.

- :class:`SME`: one seat of the SME sample, a thin Mesa view onto a row of the
  population columns (:mod:`sim.population`); SMEs' monthly behaviour is
  computed over those columns at once.
- :class:`Bank` (银行): screens applicants, lends directly, refers to a
  guarantor or rejects; prices loans.
- :class:`Guarantor` (政府性融资担保机构): screens referrals (or accepts them in
  batch mode), prices guarantees, rations its capacity under the leverage and
  concentration caps, pays compensation (代偿).
- :class:`Reguarantor` (再担保): takes a share of eligible guarantees.
- :class:`NationalFund` (国家融资担保基金): takes a share of covered business and
  stops sharing above its compensation-rate cap.
- :class:`Government` (财政): fee subsidies, compensation funds, the yearly
  performance evaluation (绩效评价) and capital injections.

Institutions are few and are ordinary Mesa agents; their equity is their
account balance in the model's :class:`~sim.ledger.Ledger`.
"""

from __future__ import annotations

import mesa
import numpy as np

from .applications import (
    DIRECT_ROUTE,
    GUARANTEE_ROUTE,
    REJECT,
    Applications,
    estimate_pd,
    screening_noise,
)
from .parameters import SECTORS, SIZE_CLASSES
from .risk_sharing import liability, net_liability

__all__ = ["SME", "Bank", "Guarantor", "Reguarantor", "NationalFund", "Government"]

NO_BATCH, BANK_LED, GUARANTOR_LED = 0, 1, 2
BATCH_MODES = {"none": NO_BATCH, "bank_led": BANK_LED, "guarantor_led": GUARANTOR_LED}


def stable_order(labels: np.ndarray) -> np.ndarray:
    """Indices that sort small non-negative integer ``labels``, ties in original order.

    The labels are cast to the narrowest integer type first: numpy's stable sort of
    such a type is a radix sort, much faster than a comparison sort.
    """
    if labels.size == 0:
        return np.zeros(0, np.intp)
    return np.argsort(labels.astype(np.min_scalar_type(labels.max())), kind="stable")


def group_sums(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` in each group ``0..n-1``.

    Each group is summed as numpy sums the subset ``values[groups == j]`` (pairwise, in
    the original order), so the result is the same as that mask-per-group loop.
    """
    order = stable_order(groups)
    bounds = np.searchsorted(groups[order], np.arange(n + 1))
    v = values[order]
    return np.array([v[bounds[j] : bounds[j + 1]].sum() for j in range(n)])


def group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` within each group, in the original order.

    ``groups`` holds small non-negative integers (group labels).
    """
    if values.size == 0:
        return values.astype(float)
    order = stable_order(groups)
    v = values[order].astype(float)
    g = groups[order]
    cs = np.cumsum(v)
    start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    offset = np.repeat(cs[start] - v[start], np.diff(np.r_[start, g.size]))
    out = np.empty_like(cs)
    out[order] = cs - offset
    return out


def guarantee_fee(pd_estimate, relief_sector, p) -> np.ndarray:
    """The guarantors' fee schedule (fraction p.a. of the guaranteed loan).

    ``min(base_fee + risk_fee_loading x PD estimate, fee_cap)``, less the relief-sector cut
    where ``relief_sector`` is true, at least 0.
    """
    fee = np.minimum(
        p["guarantor.base_fee"] + p["guarantor.risk_fee_loading"] * pd_estimate,
        p["guarantor.fee_cap"],
    )
    return np.maximum(fee - p["relief.fee_cut"] * relief_sector, 0.0)


def exemption(model) -> float:
    """Strength of the due-diligence exemption (尽职免责) in force, in [0, 1].

    ``exemption_strength`` times the adoption level of measure 3 (the share of guarantors
    whose staff rules have adopted it) when the exemption is on, else 0.
    """
    p = model.params
    if not p["guarantor.due_diligence_exemption"]:
        return 0.0
    return p["guarantor.exemption_strength"] * model.adoption.level(3)


# ---------------------------------------------------------------------------- SME
class SME(mesa.Agent):
    """One seat of the representative SME sample (中小微企业).

    The agent holds no state of its own: its attributes are read from row
    ``row`` of ``model.smes``. Use it for inspection, AgentSet queries and
    agent-level reporters; the monthly behaviour of all SMEs is computed over
    the columns by the model. The model creates the seats consecutively, so the
    row is the agent's ``unique_id`` less the first seat's (this keeps creating a
    million seats cheap: no ``__init__`` of its own).
    """

    @staticmethod
    def stay_away(needs: Applications, model) -> np.ndarray:
        """Which of the firms that need credit this month do not apply (discouraged borrowers).

        A firm knows its own PD and assets, the lenders' rules in force and how well they
        can see it (a firm without a credit history knows it is judged close to the average
        of its size class and sector). It anticipates the lenders' judgement: their decision
        rules at the estimate they would form from the information available on it, without
        the luck of a particular screening (a zero screening error). It expects a loan if
        the bank would lend to it directly (``PD x LGD`` within
        ``bank.direct_el_tolerance``) or a guarantor would take it (it meets the
        counter-guarantee requirement, and ``PD x LGD`` times the share a guarantor keeps
        after the bank's share and the cover it counts is within the guarantors'
        appetite). A firm that expects to be refused stays away with probability
        ``demand.discouragement`` (Kon & Storey 2003: discouraged borrowers need credit but
        do not apply because they expect rejection).

        The draw is the firm's take-up uniform; for the firms that apply in spite of
        their doubt it is rescaled to a fresh uniform.

        Returns
        -------
        ndarray of bool
            True for the firms that stay away.
        """
        p = model.params
        zero = np.zeros(needs.n)
        tau = p["credit.pd_dispersion"]
        aversion = p["information.uncertainty_aversion"]
        sigma_b = screening_noise(p["bank.screening_noise"], needs.first_time, p)
        _, bank_view = estimate_pd(needs.pd, zero, sigma_b, aversion, needs.prior_log, tau)
        direct = bank_view * needs.lgd_direct <= p["bank.direct_el_tolerance"]
        sigma_g = screening_noise(p["guarantor.screening_noise"], needs.first_time, p)
        e = exemption(model)
        _, guarantor_view = estimate_pd(
            needs.pd, zero, sigma_g, aversion * (1.0 - e), needs.prior_log, tau
        )
        s = model.shares
        cover = s.reguarantor + s.national_fund + s.comp_fund
        retained = 1.0 - s.bank - p["guarantor.cover_appetite"] * cover
        appetite = p["guarantor.el_appetite"] * (1.0 + e)
        guaranteed = needs.pledge_ok & (
            guarantor_view * needs.lgd_guaranteed * retained <= appetite
        )
        doubt = ~(direct | guaranteed)
        delta = p["demand.discouragement"]
        away = doubt & (needs.u_take < delta)
        brave = doubt & ~away
        if delta < 1.0:
            needs.u_take[brave] = (needs.u_take[brave] - delta) / (1.0 - delta)
        return away

    @staticmethod
    def take_up(apps: Applications, model) -> None:
        """Each firm with an offer takes it up or walks away (``apps.taken``).

        ``P(take-up) = min(1, (cost / reference_cost)^-elasticity) x
        (1 - delay_dropout)^delay``, cost = interest + guarantee fee (after any
        subsidised cut); the draw is the firm's take-up uniform.
        """
        p = model.params
        guaranteed = apps.route == GUARANTEE_ROUTE
        offered = (apps.route == DIRECT_ROUTE) | (guaranteed & apps.approved)
        cost = apps.rate + np.where(guaranteed, apps.fee, 0.0)
        ratio = np.maximum(cost, 1e-9) / p["demand.reference_cost"]
        prob = np.minimum(1.0, ratio ** -p["demand.cost_elasticity"])
        prob *= (1.0 - p["demand.delay_dropout"]) ** np.where(guaranteed, apps.delay, 0.0)
        apps.taken = offered & (apps.u_take < prob)

    @property
    def row(self) -> int:
        """Row of this seat in ``model.smes``."""
        return self.unique_id - self.model.first_sme_id

    @property
    def firm_id(self) -> int:
        """Identifier of the firm now holding this seat."""
        return int(self.model.smes.firm_id[self.row])

    @property
    def sector(self) -> str:
        return SECTORS[self.model.smes.sector[self.row]]

    @property
    def size_class(self) -> str:
        return SIZE_CLASSES[self.model.smes.size[self.row]]

    @property
    def revenue(self) -> float:
        """Annual revenue, yuan."""
        return float(self.model.smes.revenue[self.row])

    @property
    def pd(self) -> float:
        """Unconditional annual probability of default."""
        return float(self.model.smes.pd[self.row])

    @property
    def first_time(self) -> bool:
        """Never repaid a loan (首贷户)."""
        return bool(self.model.smes.first_time[self.row])

    @property
    def has_loan(self) -> bool:
        return bool(self.model.smes.has_loan[self.row])

    @property
    def loan_amount(self) -> float:
        """Outstanding principal, yuan (0 without a loan)."""
        s = self.model.smes
        return float(s.loan_amount[self.row]) if s.has_loan[self.row] else 0.0

    @property
    def channel(self) -> str | None:
        """``"guaranteed"``, ``"direct"`` or ``None`` without a loan."""
        s = self.model.smes
        if not s.has_loan[self.row]:
            return None
        return "guaranteed" if s.loan_guarantor[self.row] >= 0 else "direct"


# -------------------------------------------------------------------- institutions
class Institution(mesa.Agent):
    """An institution with an account in the model's ledger."""

    def __init__(self, model, name: str, account: int):
        super().__init__(model)
        self.name = name
        self.account = account

    @property
    def equity(self) -> float:
        """Net assets, yuan: opening capital plus net recorded flows."""
        return float(self.model.ledger.balance[self.account])


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


class Guarantor(Institution):
    """A government financing guarantor (政府性融资担保机构).

    Screens the referrals of its cooperating banks with its own noisy PD
    estimate and approves when the expected loss on the share it retains after
    re-guarantee, National Fund and compensation-fund cover is within its risk
    appetite. In a batch-mode pair (见贷即担) it accepts the bank's approval within
    a monthly quota without screening; in 见担即贷 the bank lends on its approval.

    Risk appetite rises with the due-diligence exemption (尽职免责), which also
    lowers the penalty lenders put on uncertain (thin-file) estimates, and falls
    as equity is depleted; a guarantor with no equity stops new business.

    Capacity: guarantee liability net of the parts re-guaranteed by the
    re-guarantor and the National Fund, ``(1 - s_bank - s_reg - s_nf) E``, at most
    ``leverage_cap`` x net assets (放大倍数; the higher cap when at least
    ``small_micro_focus_share``, 80%, of its liability is small/micro). Counting
    re-guaranteed risk out of the capacity measure is an assumption (the treatment of
    re-guarantee in the 融资担保责任余额计量办法 is not verified here); the reported
    leverage is gross. A single
    borrower's guarantee is at most ``concentration_cap`` x net assets.
    Policy-priority business (small/micro loans <= ``priority_max_loan``, 5M yuan, relief
    sectors) is served first when capacity binds.
    """

    def __init__(self, model, index: int, tier: str, account: int, opening_equity: float):
        super().__init__(model, f"{tier}_guarantor_{index}", account)
        self.index = index
        self.tier = tier
        self.opening_equity = opening_equity
        self.score = np.nan  # latest performance-evaluation score
        self.drive = 1.0  # appetite multiplier set by the evaluation and supervision
        self.new_year()

    def new_year(self) -> None:
        """Reset the statistics the yearly performance evaluation reads."""
        self.year = dict.fromkeys(
            ("volume", "small_micro", "le_10m", "fee_amount", "ceded", "compensation", "released"),
            0.0,
        )

    # ------------------------------------------------------------------ state
    @property
    def liability(self) -> float:
        """Guarantee liability owed to banks (担保责任余额), yuan."""
        return float(self.model.guarantor_liability[self.index])

    @property
    def net_liability(self) -> float:
        """Liability net of re-guarantor and National Fund cessions, yuan (capacity measure)."""
        return float(self.model.guarantor_liability_net[self.index])

    @property
    def leverage(self) -> float:
        """Guarantee liability / net assets (放大倍数); inf when equity <= 0."""
        eq = self.equity
        return self.liability / eq if eq > 0 else np.inf

    @property
    def leverage_cap(self) -> float:
        """Applicable leverage cap: higher for small/micro-focused guarantors."""
        p = self.model.params
        liab = self.liability
        sm = self.model.guarantor_liability_sm[self.index]
        focused = liab <= 0 or sm / liab >= p["guarantor.small_micro_focus_share"]
        return p["guarantor.leverage_cap_small_micro"] if focused else p["guarantor.leverage_cap"]

    @property
    def solvent(self) -> bool:
        return self.equity > 0

    def appetite(self) -> float:
        """Largest expected loss on its retained share the guarantor accepts.

        ``el_appetite x (1 + exemption) x drive x min(1, equity / opening equity)``, with
        ``exemption`` the due-diligence exemption's strength times its adoption level and
        ``drive`` what the evaluation and supervision have made of the guarantor's
        appetite (1 when neither binds).
        """
        p = self.model.params
        health = min(1.0, max(0.0, self.equity / self.opening_equity)) if self.opening_equity else 1
        return p["guarantor.el_appetite"] * (1.0 + exemption(self.model)) * self.drive * health

    def adjust_drive(self, factor: float) -> None:
        """Multiply the appetite drive by ``factor``, kept within [1/4, 4]."""
        self.drive = float(np.clip(self.drive * factor, 0.25, 4.0))

    # -------------------------------------------------------------- decisions
    # The rules below are each guarantor's own, applied to all guarantors' referrals in
    # one pass (vectorised across the few guarantors): per-call numpy overhead, not the
    # number of referrals, would otherwise dominate a month.
    @staticmethod
    def underwrite(guarantors: list[Guarantor], apps: Applications) -> None:
        """Each guarantor approves or declines its referrals and sets fee, cover and delay.

        Approval: the expected loss on the share it keeps, counting a fraction
        ``cover_appetite`` of its cover, within its appetite; or, in a batch-mode pair, the
        bank's approval (见贷即担) or its own approval alone (见担即贷) within the pair's
        monthly quota.
        """
        if not guarantors:
            return
        m = guarantors[0].model
        p = m.params
        sel = np.flatnonzero(apps.route == GUARANTEE_ROUTE)
        if sel.size == 0:
            return
        g = apps.guarantor[sel]
        appetite_g = np.array([x.appetite() for x in guarantors])
        solvent_g = np.array([x.solvent for x in guarantors])
        amount = apps.amount[sel]
        reg_ok = m.reguarantor.eligible(amount, apps.small_micro[sel])
        nf_ok = reg_ok & m.national_fund.covers(amount, apps.u_cover[sel])
        s = m.shares
        cf_open = m.government.comp_fund_remaining > 0
        cover = (
            s.reguarantor * reg_ok
            + s.national_fund * (nf_ok & m.national_fund.sharing)
            + (s.comp_fund if cf_open else 0.0)
        )
        # the guarantor counts a fraction of the cover it gets as lower risk
        retained = 1.0 - s.bank - p["guarantor.cover_appetite"] * cover

        aversion = p["information.uncertainty_aversion"] * (1.0 - exemption(m))
        sigma = screening_noise(p["guarantor.screening_noise"], apps.first_time[sel], p)
        est, dec = estimate_pd(
            apps.pd[sel],
            apps.eps_guarantor[sel],
            sigma,
            aversion,
            apps.prior_log[sel],
            p["credit.pd_dispersion"],
        )
        appetite = appetite_g[g] * (1.0 + p["relief.appetite_boost"] * apps.relief_sector[sel])
        solvent = solvent_g[g]
        guar_ok = (retained * dec * apps.lgd_guaranteed[sel] <= appetite) & solvent
        bank_ok = apps.bank_ok_guaranteed[sel]

        bank = apps.bank[sel]
        mode = m.batch_mode[bank, g]
        candidate = ((mode == BANK_LED) & bank_ok) | ((mode == GUARANTOR_LED) & guar_ok)
        # each pair's quota is used in order of application
        c = np.flatnonzero(candidate)
        used = group_cumsum(amount[c] * m.weight, bank[c] * len(guarantors) + g[c])
        in_batch = candidate.copy()
        in_batch[c] = (used <= p["batch.quota"]) & solvent[c]
        approved = in_batch | (bank_ok & guar_ok)

        unscreened = in_batch & (mode == BANK_LED)
        fee = guarantee_fee(np.where(unscreened, p["credit.pd"], est), apps.relief_sector[sel], p)

        apps.approved[sel] = approved
        apps.in_batch[sel] = in_batch
        apps.batch_mode[sel] = mode
        apps.fee[sel] = fee
        apps.reg_ok[sel] = reg_ok
        apps.nf_ok[sel] = nf_ok
        apps.delay[sel] = np.where(in_batch, 0, p["guarantor.approval_delay"])
        apps.guarantor_screened[sel] = ~unscreened
        # each guarantor pays for the referrals it screened
        screened = np.bincount(g[~unscreened], minlength=len(guarantors))
        cost = screened * m.weight * p["guarantor.screening_cost"]
        m.ledger.transfer("screening_cost", m.guarantor_accounts, m.acct["outside"], cost)

    @staticmethod
    def add_new_business(
        guarantors: list[Guarantor], g, principal, amount, small_micro, ceded, fee_amount
    ) -> None:
        """Add the month's new guarantees to each guarantor's evaluation statistics.

        ``g`` the guarantor of each, ``principal`` its loan (yuan, one real loan),
        ``amount`` its weighted amount (yuan), ``small_micro`` and ``ceded`` (re-guaranteed)
        flags, ``fee_amount`` the fee p.a. it earns (yuan).
        """
        if not guarantors:
            return
        p = guarantors[0].model.params
        stats = {
            "volume": amount,
            "small_micro": amount * small_micro,
            "le_10m": amount * (principal <= p["evaluation.small_loan_max"]),
            "fee_amount": fee_amount,
            "ceded": amount * ceded,
        }
        ng = len(guarantors)
        for key, values in stats.items():
            by_g = np.bincount(g, values, ng)
            for x in guarantors:
                x.year[key] += by_g[x.index]

    @staticmethod
    def add_released(guarantors: list[Guarantor], released, g, compensated: bool) -> None:
        """Add guarantee liability released (yuan) to each guarantor's statistics.

        ``compensated``: released by compensation (a default), which the evaluation's
        compensation rate also counts; else by repayment.
        """
        by_g = group_sums(released, g, len(guarantors))
        for x in guarantors:
            if compensated:
                x.year["compensation"] += by_g[x.index]
            x.year["released"] += by_g[x.index]

    @staticmethod
    def allocate_capacity(guarantors: list[Guarantor], apps: Applications) -> None:
        """Each guarantor books its taken-up guarantees while its caps allow.

        Leverage: liability net of cessions at most ``leverage_cap`` x equity; policy
        priority (small/micro loans <= ``guarantor.priority_max_loan``, relief sectors)
        first, then arrival order.
        Concentration: a single borrower's guarantee at most ``concentration_cap`` x equity.
        """
        if not guarantors:
            return
        m = guarantors[0].model
        p = m.params
        sel = np.flatnonzero(apps.taken & (apps.route == GUARANTEE_ROUTE))
        if sel.size == 0:
            return
        g = apps.guarantor[sel]
        equity_g = np.array([x.equity for x in guarantors])
        room_g = np.array(
            [x.leverage_cap * max(x.equity, 0.0) - x.net_liability for x in guarantors]
        )
        amount = apps.amount[sel]
        conc_ok = liability(amount, m.shares) <= p["guarantor.concentration_cap"] * equity_g[g]
        need = net_liability(amount * m.weight, m.shares, apps.reg_ok[sel], apps.nf_ok[sel])
        small = amount <= p["guarantor.priority_max_loan"]
        priority = (apps.small_micro[sel] & small) | apps.relief_sector[sel]
        # by guarantor, priority first, then arrival (a stable sort of one narrow key)
        order = stable_order(2 * g + ~priority)
        need = np.where(conc_ok, need, 0.0)[order]
        fits = np.zeros(sel.size, bool)
        fits[order] = conc_ok[order] & (group_cumsum(need, g[order]) <= room_g[g[order]])
        apps.booked[sel] = fits
        apps.capacity_rejected[sel] = ~fits


class Reguarantor(Institution):
    """The Beijing re-guarantee company (再担保), the system's "stabiliser".

    Takes ``reguarantor.share`` of eligible guarantees (loan at most
    ``reguarantor.max_loan``; micro and small firms only unless configured) and
    charges a re-guarantee fee on the risk it takes, lower for small loans
    (differentiated fees, measure 1).
    """

    def eligible(self, amount, small_micro) -> np.ndarray:
        p = self.model.params
        ok = amount <= p["reguarantor.max_loan"]
        if p["reguarantor.small_micro_only"]:
            ok = ok & small_micro
        return ok

    def fee_rate(self, amount) -> np.ndarray:
        """Re-guarantee fee (fraction p.a. of the ceded risk) by loan size."""
        p = self.model.params
        return np.where(
            amount <= p["reguarantor.fee_size_threshold"],
            p["reguarantor.fee_small"],
            p["reguarantor.fee"],
        )


class NationalFund(Institution):
    """The National Financing Guarantee Fund (国家融资担保基金).

    Shares ``national_fund.share`` of re-guarantee-eligible loans that the
    re-guarantor brings into national cooperation (a share
    ``national_fund.coverage`` of eligible business, at most
    ``national_fund.max_loan``), for a fee of 0.5% of the risk it bears (0.3% for
    loans <= ``national_fund.fee_size_threshold``, 5M yuan).

    The compensation-rate cap (4%) is interpreted by ``national_fund.cap_rule``:

    - ``"suspend"``: the compensation rate of its partner on covered business
      over the trailing 12 months (the current month and the 11 before;
      compensation paid / covered guarantees
      released, matured or compensated) is checked at the start of each month
      once a full year of history exists;
      above the cap, new defaults are not shared (their share falls back to the
      guarantor) until it is back under the cap;
    - ``"limit"``: over any trailing 12 months the Fund reimburses at most
      ``share x cap x`` the covered guarantees released in those months, and
      claims beyond that fall back to the guarantor;
    - ``"none"``: the cap is not enforced.
    """

    def __init__(self, model, name, account):
        super().__init__(model, name, account)
        self.sharing = True
        # trailing 12-month window of covered business, one slot per month
        self.window_comp = np.zeros(12)
        self.window_released = np.zeros(12)
        self.window_paid = np.zeros(12)
        self.months_recorded = 0
        self._slot = 0

    def covers(self, amount, u_cover) -> np.ndarray:
        p = self.model.params
        return (amount <= p["national_fund.max_loan"]) & (u_cover < p["national_fund.coverage"])

    def fee_rate(self, amount) -> np.ndarray:
        p = self.model.params
        return np.where(
            amount <= p["national_fund.fee_size_threshold"],
            p["national_fund.fee_small"],
            p["national_fund.fee"],
        )

    def compensation_rate(self) -> float:
        """Trailing 12-month compensation rate of covered business (NaN if none released)."""
        rel = self.window_released.sum()
        return float(self.window_comp.sum() / rel) if rel > 0 else float("nan")

    def start_month(self, month: int) -> None:
        """Open this month's slot of the window and apply the cap rule.

        The ``suspend`` rule needs a full year of history: before the window
        holds 12 months, the rate would be compensation over few releases.
        """
        p = self.model.params
        self._slot = month % 12
        self.window_comp[self._slot] = 0.0
        self.window_released[self._slot] = 0.0
        self.window_paid[self._slot] = 0.0
        self.months_recorded += 1
        if p["national_fund.cap_rule"] == "suspend" and self.months_recorded > 12:
            self.sharing = not (self.compensation_rate() > p["national_fund.comp_rate_cap"])
        else:
            self.sharing = True

    def available(self) -> float:
        """Reimbursement the ``limit`` rule still allows (inf for the other rules).

        ``share x cap x`` covered guarantees released over the trailing 12 months,
        less what the Fund paid over the same months.
        """
        p = self.model.params
        if p["national_fund.cap_rule"] != "limit":
            return np.inf
        cap = p["national_fund.share"] * p["national_fund.comp_rate_cap"]
        return max(0.0, cap * self.window_released.sum() - self.window_paid.sum())

    def record(self, compensation: float, released: float, paid: float) -> None:
        """Record covered compensation, covered guarantees released and reimbursements paid."""
        self.window_comp[self._slot] += compensation
        self.window_released[self._slot] += released
        self.window_paid[self._slot] += paid


class Government(mesa.Agent):
    """City and district government (财政 / 金融监管).

    Pays fee-reduction subsidies (担保降费奖补) and compensation-fund
    reimbursements (代偿补偿资金) within yearly budgets, and once a year evaluates
    the guarantors (绩效评价) and injects capital (资本金补充) into those scoring at
    least ``evaluation.min_score``, in proportion to their scores.

    The evaluation scores four dimensions, each in [0, 1], weighted by
    ``evaluation.weights`` and scaled to 100 points:

    - policy effect: small/micro share of new guarantees (target
      ``evaluation.small_micro_target``, 80%), share of loans <= ``evaluation.small_loan_max``
      (10M yuan; target ``evaluation.small_loan_target``, 80%), average fee (full marks at
      <= 1%, none at >= 3%), averaged;
    - operating capacity: leverage, full marks at 5x (assumption);
    - risk control: compensation rate, full marks at <= 3%, none at >= 6%
      (assumption);
    - system building: share of new guarantees under re-guarantee (target
      ``evaluation.reguarantee_target``, 80%).
    """

    def __init__(self, model, account: int):
        super().__init__(model)
        self.account = account
        self.new_year()

    def new_year(self) -> None:
        p = self.model.params
        self.fee_subsidy_remaining = p["government.fee_subsidy_budget"]
        self.city_fund_remaining = p["comp_fund.city_budget"]
        self.district_fund_remaining = p["comp_fund.district_budget"]

    @property
    def comp_fund_remaining(self) -> float:
        return self.city_fund_remaining + self.district_fund_remaining

    def spend_comp_fund(self, amount: float) -> None:
        """Use the compensation funds, city first, then districts."""
        city = min(amount, self.city_fund_remaining)
        self.city_fund_remaining -= city
        self.district_fund_remaining = max(0.0, self.district_fund_remaining - (amount - city))

    def expected_subsidy(self, fee: np.ndarray, small_micro: np.ndarray) -> np.ndarray:
        """The fee cut a firm can expect on a guarantee at ``fee`` (0 where not eligible).

        The firm's view when it chooses between a direct and a guaranteed loan: the
        subsidy rate (at most the fee) on small/micro guarantees whose fee after the
        cut is at or below the threshold, while the year's budget lasts.
        """
        p = self.model.params
        rate = p["government.fee_subsidy_rate"]
        if rate <= 0 or self.fee_subsidy_remaining <= 0:
            return np.zeros_like(fee)
        eligible = small_micro & (fee - rate <= p["government.fee_subsidy_threshold"])
        return np.where(eligible, np.minimum(rate, fee), 0.0)

    def offer_fee_subsidies(self, apps: Applications) -> None:
        """Cut fees on eligible offers and reserve the subsidy within the budget.

        Eligible: small/micro guarantees whose fee after the cut is at or below
        the threshold; the guarantor passes the whole subsidy on as a fee cut.
        """
        p = self.model.params
        rate = p["government.fee_subsidy_rate"]
        if rate <= 0 or self.fee_subsidy_remaining <= 0:
            return
        term = p["loans.term_months"] / 12.0
        eligible = (
            apps.approved
            & (apps.route == GUARANTEE_ROUTE)
            & apps.small_micro
            & (apps.fee - rate <= p["government.fee_subsidy_threshold"])
        )
        offers = np.flatnonzero(eligible)
        cut = np.minimum(rate, apps.fee[offers])  # at most the fee itself
        cost = cut * apps.amount[offers] * self.model.weight * term
        funded = np.cumsum(cost) <= self.fee_subsidy_remaining  # in order of application
        offers, cut = offers[funded], cut[funded]
        apps.subsidy[offers] = cut
        apps.fee[offers] -= cut

    def evaluate_and_inject(self) -> None:
        """Yearly performance evaluation (绩效评价), guarantors' response, capital injections.

        Where the evaluation binds (``evaluation.response`` > 0, measure 11), each guarantor
        manages to it: a shortfall on operating capacity (leverage below the 5x that earns
        full marks) raises its risk appetite, a shortfall on risk control (compensation rate
        above 3%) lowers it, each in proportion to the dimension's weight.
        """
        m = self.model
        p = m.params
        weights = np.asarray(p["evaluation.weights"], dtype=float)
        response = p["evaluation.response"]
        guarantors = m.guarantors
        for g in guarantors:
            dims = evaluation_dimensions(g)
            g.score = _total_score(dims, weights)
            if response > 0 and dims is not None:
                push = weights[1] * (1 - dims[1]) - weights[2] * (1 - dims[2])
                g.adjust_drive(np.exp(response * push / 100.0))
            g.new_year()
        budget = p["government.capital_injection_budget"]
        scores = np.array([g.score for g in guarantors])
        winners = np.flatnonzero(scores >= p["evaluation.min_score"])
        if budget > 0 and winners.size:
            split = scores[winners] / scores[winners].sum()
            for k, share in zip(winners, split, strict=True):
                m.ledger.transfer(
                    "capital_injection", self.account, guarantors[k].account, budget * share
                )

    def supervise(self) -> None:
        """Yearly supervisory guidance (监管引导, measure 12) of guarantors whose role is weak.

        A guarantor whose leverage (放大倍数) is below ``supervision.leverage_floor`` is
        guided to expand: its risk appetite rises by the fraction ``supervision.guidance``.
        """
        p = self.model.params
        guidance = p["supervision.guidance"]
        if guidance <= 0:
            return
        for g in self.model.guarantors:
            if g.solvent and g.leverage < p["supervision.leverage_floor"]:
                g.adjust_drive(1.0 + guidance)


def evaluation_dimensions(g: Guarantor) -> np.ndarray | None:
    """The four evaluation dimensions of a guarantor's year, each in [0, 1].

    Policy effect, operating capacity, risk control and system building, as the
    :class:`Government` docstring defines them; ``None`` for a year without business.
    """
    p = g.model.params
    y = g.year
    vol = y["volume"]
    if vol <= 0:
        return None
    policy = np.mean(
        [
            min(1.0, y["small_micro"] / vol / p["evaluation.small_micro_target"]),
            min(1.0, y["le_10m"] / vol / p["evaluation.small_loan_target"]),
            float(np.clip((0.03 - y["fee_amount"] / vol) / 0.02, 0.0, 1.0)),
        ]
    )
    lev = g.leverage
    operating = min(1.0, lev / 5.0) if np.isfinite(lev) else 0.0
    rate = y["compensation"] / y["released"] if y["released"] > 0 else 0.0
    risk = float(np.clip((0.06 - rate) / 0.03, 0.0, 1.0))
    system = min(1.0, y["ceded"] / vol / p["evaluation.reguarantee_target"])
    return np.array([policy, operating, risk, system])


def _total_score(dims: np.ndarray | None, weights: np.ndarray) -> float:
    total = weights.sum()
    if dims is None or total <= 0:
        return 0.0
    return float(100.0 * weights @ dims / total)
