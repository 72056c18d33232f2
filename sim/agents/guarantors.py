"""The guarantors (政府性融资担保机构), the re-guarantor (再担保) and the national fund
(国家融资担保基金): underwriting, pricing, capacity under the leverage and concentration
caps, and risk sharing above the guarantors."""

from __future__ import annotations

import numpy as np

from sim.applications import (
    GUARANTEE_ROUTE,
    Applications,
    estimate_pd,
    screening_noise,
)
from sim.risk_sharing import liability, net_liability

from .grouping import group_cumsum, group_sums, stable_order
from .institution import Institution
from .terms import BANK_LED, GUARANTOR_LED, exemption, guarantee_fee


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
        return float(Guarantor.leverage_caps(self.model)[self.index])

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
        return float(Guarantor.appetites(self.model)[self.index])

    def adjust_drive(self, factor: float) -> None:
        """Multiply the appetite drive by ``factor``, kept within [1/4, 4]."""
        self.drive = float(np.clip(self.drive * factor, 0.25, 4.0))

    # ------------------------------------------------- all guarantors at once
    # The monthly stages read these for every guarantor: one array each, indexed like
    # ``model.guarantors`` (the properties above read one element of them).
    @staticmethod
    def equities(model) -> np.ndarray:
        """Net assets of every guarantor, yuan."""
        return model.ledger.balance[model.guarantor_accounts]

    @staticmethod
    def leverage_caps(model) -> np.ndarray:
        """Applicable leverage cap of every guarantor (放大倍数 cap).

        ``guarantor.leverage_cap_small_micro`` where at least
        ``guarantor.small_micro_focus_share`` of its liability is small/micro (or it has
        none), else ``guarantor.leverage_cap``.
        """
        p = model.params
        liab = model.guarantor_liability
        with np.errstate(divide="ignore", invalid="ignore"):
            share = model.guarantor_liability_sm / liab
        focused = (liab <= 0) | (share >= p["guarantor.small_micro_focus_share"])
        return np.where(
            focused, p["guarantor.leverage_cap_small_micro"], p["guarantor.leverage_cap"]
        )

    @staticmethod
    def appetites(model) -> np.ndarray:
        """Risk appetite of every guarantor (see :meth:`appetite`)."""
        p = model.params
        guarantors = model.guarantors
        opening = np.array([x.opening_equity for x in guarantors], dtype=float)
        drive = np.array([x.drive for x in guarantors], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = Guarantor.equities(model) / opening
        health = np.where(opening != 0, np.minimum(1.0, np.maximum(0.0, ratio)), 1.0)
        return p["guarantor.el_appetite"] * (1.0 + exemption(model)) * drive * health

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
        appetite_g = Guarantor.appetites(m)
        solvent_g = Guarantor.equities(m) > 0
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
        equity_g = Guarantor.equities(m)
        room_g = Guarantor.leverage_caps(m) * np.maximum(equity_g, 0.0) - m.guarantor_liability_net
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
