"""The guarantee market: a Mesa model and its monthly cycle.

:class:`GuaranteeMarket` wires the agents together and runs the monthly cycle of
``docs/ODD.md`` (model.md section 3), which reads top to bottom in
:meth:`GuaranteeMarket.step`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import NamedTuple

import mesa
import numpy as np
from scipy.special import ndtri

from .adoption import Adoption
from .agents import (
    BATCH_MODES,
    NO_BATCH,
    SME,
    Bank,
    Government,
    Guarantor,
    NationalFund,
    Reguarantor,
)
from .applications import DIRECT_ROUTE, GUARANTEE_ROUTE, REJECT, Applications
from .credit_risk import conditional_pd, monthly_hazard
from .ledger import Ledger
from .outcomes import (
    FLOW_SERIES,
    MONTHLY_SERIES,
    party_losses,
    record_bookings,
    record_decisions,
    record_defaults,
    summarize,
    summarize_by_year,
)
from .parameters import BANK_TYPES, REGISTRY, SECTORS, SHOCK_SECTORS, SIZE_CLASSES
from .population import DIRECT, SMEPopulation
from .risk_sharing import RiskShares, allocate_loss, liability, net_liability, share_recovery
from .scenario import Scenario, default_scenario, load_scenario

__all__ = ["GuaranteeMarket"]

STREAMS = ("population", "macro", "demand", "default", "entry")


def _record_value(model, key):
    return model.record[key]


class LoanColumns(NamedTuple):
    """The columns of a set of loans that the running stocks need (one entry per loan)."""

    amount: np.ndarray  # principal, yuan (one real loan: unweighted)
    guarantor: np.ndarray  # guarantor index, DIRECT for a direct loan
    bank: np.ndarray  # lending bank index
    start: np.ndarray  # month booked (keys ``shares_by_month``)
    rate: np.ndarray  # interest rate, fraction p.a.
    funding_relief: np.ndarray  # PBOC funding relief to the bank, fraction p.a.
    reg: np.ndarray  # re-guaranteed (bool)
    nf: np.ndarray  # covered by the National Fund (bool)
    small_micro: np.ndarray  # borrower is micro or small (bool)
    sector: np.ndarray  # borrower's sector index


class GuaranteeMarket(mesa.Model):
    """Agent-based model of the government-bank-guarantor credit market.

    Parameters
    ----------
    scenario : Scenario, str or Path, optional
        Resolved scenario, or a path to a scenario file. Defaults to the
        registry defaults.
    rng : int, numpy.random.SeedSequence or Generator, optional
        Seed. Independent streams for the population, the macro factors, credit
        demand, defaults and entrants are spawned from it with
        :class:`numpy.random.SeedSequence`, so that two scenarios run with the
        same seed share their random numbers purpose by purpose (common random
        numbers).

    Attributes
    ----------
    spec : Scenario
        The scenario as given (the values once every measure is adopted).
    params : Scenario
        The parameter values in force this month: the scenario's, with each measure's
        departures from the pre-2022 reference adopted along its path (``adoption``).
    adoption : Adoption
        Adoption levels of the twelve measures (:mod:`sim.adoption`).
    smes : SMEPopulation
        SME columns (each row also an :class:`~sim.agents.SME` agent).
    banks, guarantors : list
        Bank and guarantor agents, in index order.
    reguarantor, national_fund, government
        The other institutions.
    ledger : Ledger
        All flows of money.
    weight : float
        Real firms represented by one simulated SME (``population_weight``).
    record : dict
        The current month's values of :data:`sim.outcomes.MONTHLY_SERIES` (units in
        :data:`sim.outcome_registry.OUTCOMES`).
    totals : dict
        The flows of :data:`sim.outcomes.FLOW_SERIES` summed over the reported months so
        far (stocks and ratios are not summed: read them from ``record``).
    datacollector : mesa.DataCollector
        Monthly series over the reported horizon.

    Examples
    --------
    >>> import sim
    >>> model = sim.GuaranteeMarket(sim.load_scenario("scenarios/beijing_2022.toml"), rng=42)
    >>> model.run()
    >>> model.summary()["lending_volume"]  # doctest: +SKIP
    """

    def __init__(self, scenario: Scenario | str | Path | None = None, *, rng=None):
        if scenario is None:
            scenario = default_scenario()
        elif isinstance(scenario, str | Path):
            scenario = load_scenario(scenario)
        seed_seq = _seed_sequence(rng)
        children = seed_seq.spawn(len(STREAMS) + 1)
        super().__init__(rng=np.random.default_rng(children[0]))
        streams = dict(zip(STREAMS, (np.random.default_rng(c) for c in children[1:]), strict=True))
        self.rng_macro = streams["macro"]
        self.rng_demand = streams["demand"]
        self.rng_default = streams["default"]

        p = self.params = self.spec = scenario
        self.adoption = Adoption(scenario.values)
        self.burn_in = p["run.burn_in"]
        self.horizon = p["run.horizon"]
        n = p["run.n_smes"]
        self.weight = p["population.firms"] / n
        self.month = 0

        # ---- institutions and their ledger accounts
        n_banks = len(BANK_TYPES)
        n_mun, n_dis = p["guarantor.municipal"], p["guarantor.district"]
        g_equity = _guarantor_equity(p, n_mun, n_dis)
        accounts = [f"bank:{k}" for k in BANK_TYPES]
        accounts += [f"guarantor:{i}" for i in range(n_mun + n_dis)]
        accounts += [
            "reguarantor",
            "national_fund",
            "government",
            "comp_fund",
            "pboc",
            "borrowers",
            "outside",
        ]
        opening = np.zeros(len(accounts))
        opening[:n_banks] = p["bank.equity"] * np.asarray(p["bank.market_shares"])
        opening[n_banks : n_banks + n_mun + n_dis] = g_equity
        self.acct = {a: i for i, a in enumerate(accounts)}
        opening[self.acct["reguarantor"]] = p["reguarantor.equity"]
        opening[self.acct["national_fund"]] = p["national_fund.equity"]
        self.ledger = Ledger(accounts, opening)

        self.banks = [Bank(self, b, kind, b) for b, kind in enumerate(BANK_TYPES)]
        self.guarantors = [
            Guarantor(self, i, "municipal" if i < n_mun else "district", n_banks + i, g_equity[i])
            for i in range(n_mun + n_dis)
        ]
        self.reguarantor = Reguarantor(self, "reguarantor", self.acct["reguarantor"])
        self.national_fund = NationalFund(self, "national_fund", self.acct["national_fund"])
        self.bank_accounts = np.array([b.account for b in self.banks])
        self.guarantor_accounts = np.array([g.account for g in self.guarantors])
        self.guarantee_side_accounts = np.array(
            [*self.guarantor_accounts, *(self.acct[a] for a in ("reguarantor", "national_fund"))]
            + [self.acct["comp_fund"]]
        )
        #: risk shares (guarantor, reguarantor, national_fund, bank, comp_fund) of the
        #: guarantees booked in each month: a loan keeps the split it was booked under
        self.shares_by_month = np.zeros((self.burn_in + self.horizon + 2, 5))
        self.relief_sectors = np.zeros(len(SECTORS), bool)
        self.adoption.update(self.horizon_month)
        self._put_in_force()
        self.government = Government(self, self.acct["government"])

        # ---- stocks kept up to date as loans are booked and closed (yuan, weighted)
        n_g = len(self.guarantors)
        self.guarantor_liability = np.zeros(n_g)  # owed to banks, (1 - s_bank) E
        self.guarantor_liability_net = np.zeros(n_g)  # net of re-guarantee cessions
        self.guarantor_liability_sm = np.zeros(n_g)
        self.bank_outstanding = np.zeros(n_banks)
        self.bank_interest = np.zeros(n_banks)  # monthly interest due
        self.bank_funding_relief = np.zeros(n_banks)  # monthly funding relief due
        self.outstanding = {"direct": 0.0, "guaranteed": 0.0}
        self.active = {"direct": 0, "guaranteed": 0}
        self.active_exposed = 0
        # month -> rows and columns of the loans booked to fall due then
        self.maturing: dict[int, tuple[np.ndarray, LoanColumns]] = {}
        # schedules of recoveries and write-off relief, long enough for the longest lag the
        # adoption path passes through (between the reference and the scenario's value)
        horizon_buffer = 1 + max(
            REGISTRY[k].default if i else p[k]
            for k in ("recovery.lag_months", "recovery.write_off_months")
            for i in (0, 1)
        )
        self.recovery_due = np.zeros((horizon_buffer, len(accounts)))
        self.tax_relief_due = np.zeros((horizon_buffer, len(accounts)))

        # ---- SMEs: columns, and one Mesa agent per seat
        weights = g_equity / g_equity.sum() if g_equity.sum() > 0 else np.full(n_g, 1 / n_g)
        self.smes = SMEPopulation(n, p, weights, streams["population"])
        self.smes.rng = streams["entry"]
        self.first_sme_id = self.agent_id_counter
        for _ in range(n):
            SME(self)

        # ---- macro state
        self.z = 0.0
        self.z_sector = np.zeros(len(SECTORS))
        self.sector_pd_multiplier = np.ones(len(SECTORS))
        self.z_shift = 0.0
        self.shocked_sectors = np.isin(
            np.arange(len(SECTORS)), [SECTORS.index(s) for s in p["shock.sectors"]]
        )
        self.exposed_sectors = np.isin(
            np.arange(len(SECTORS)), [SECTORS.index(s) for s in SHOCK_SECTORS]
        )

        self.record: dict[str, float] = dict.fromkeys(MONTHLY_SERIES, 0.0)
        self.totals: dict[str, float] = dict.fromkeys(FLOW_SERIES, 0.0)
        self.datacollector = mesa.DataCollector(
            model_reporters={k: partial(_record_value, key=k) for k in MONTHLY_SERIES}
        )

    # ======================================================================
    # The monthly cycle
    # ======================================================================
    def step(self) -> None:
        """One month: the ten stages of the cycle, in order."""
        self.month += 1
        self.ledger.recording = self.in_horizon
        self.ledger.new_month()
        self.record = dict.fromkeys(MONTHLY_SERIES, 0.0)

        self.update_macro_state()  # 1. systematic and sector factors, shocks
        self.adopt_measures()  #    the measures' adoption paths
        apps = self.take_applications()  # 2. exits, entrants, who applies for how much
        Bank.screen(self.banks, apps)  # 3. direct / refer / reject
        Guarantor.underwrite(self.guarantors, apps)  # 4. approve, fee, cession
        Bank.fall_back(apps)  #    declined firms the bank would lend to alone
        self.government.offer_fee_subsidies(apps)  #    fee-reduction subsidy
        SME.take_up(apps, self)  #    firms accept or walk away
        Bank.pay_for_screening(self.banks, apps)  #    the banks' screening costs
        Guarantor.allocate_capacity(self.guarantors, apps)  # capacity caps
        self.book_loans(apps)  # 5. loans, fees, re-guarantee fees, subsidies
        self.process_defaults()  # 6. defaults, compensation, the loss waterfall
        self.accrue_monthly_flows()  #    interest, funding, operating costs
        self.process_maturities()  # 7. repayments
        self.process_recoveries()  # 8. recoveries and write-offs
        if self.month % 12 == 0:  # 9. yearly evaluation, injections, supervision
            self.government.evaluate_and_inject()
            self.government.supervise()
        self.close_month()  # 10. data collection

    def run(self) -> None:
        """Run burn-in and horizon."""
        for _ in range(self.burn_in + self.horizon - self.month):
            self.step()

    @property
    def in_horizon(self) -> bool:
        """Whether the current month is reported (after the burn-in)."""
        return self.month > self.burn_in

    @property
    def horizon_month(self) -> int:
        """Month of the reported horizon (<= 0 during burn-in)."""
        return self.month - self.burn_in

    # ---------------------------------------------------------------- stage 1
    def update_macro_state(self) -> None:
        """Draw the year's factors (first month of each year) and apply shocks.

        Hazards of active loans are recomputed whenever the factors or the shock
        state change; otherwise they are constant within the year.
        """
        p = self.params
        changed = False
        if (self.month - 1) % 12 == 0:
            self.z = float(self.rng_macro.standard_normal())
            self.z_sector = self.rng_macro.standard_normal(len(SECTORS))
            q = p["credit.systematic_quantile"]
            if q > 0:  # the systematic factor held at a chosen quantile (stress, stratification)
                self.z = float(ndtri(q))
            self.government.new_year()
            changed = True
        h = self.horizon_month
        active = p["shock.start"] <= h < p["shock.start"] + p["shock.duration"]
        mult = np.where(self.shocked_sectors & active, p["shock.pd_multiplier"], 1.0)
        shift = p["shock.systematic_z"] if active else 0.0
        if changed or shift != self.z_shift or not np.array_equal(mult, self.sector_pd_multiplier):
            self.sector_pd_multiplier = mult
            self.z_shift = shift
            self.refresh_hazards(np.flatnonzero(self.smes.has_loan))
        self.national_fund.start_month(self.month)
        self.record["z"] = self.z + self.z_shift

    def refresh_hazards(self, rows: np.ndarray) -> None:
        """Set the monthly default hazard of the loans in ``rows`` (section 4 of model.md)."""
        s = self.smes
        sector = s.sector[rows]
        pd = np.minimum(s.loan_pd[rows] * self.sector_pd_multiplier[sector], 0.999)
        annual = conditional_pd(
            pd,
            s.rho[rows],
            self.z + self.z_shift,
            self.params["credit.rho_sector"],
            self.z_sector[sector],
        )
        s.hazard[rows] = monthly_hazard(annual)

    def adopt_measures(self) -> None:
        """Move each measure along its adoption path (:mod:`sim.adoption`).

        The parameters in force, the risk shares of new guarantees, the batch pairs and
        the relief sectors follow the measures' adoption levels.
        """
        if self.adoption.update(self.horizon_month):
            self._put_in_force()
        if self.month >= self.shares_by_month.shape[0]:  # run on past the planned months
            self.shares_by_month = np.vstack([self.shares_by_month, np.zeros((12, 5))])
        self.shares_by_month[self.month] = self.shares

    def _put_in_force(self) -> None:
        from dataclasses import replace

        values = self.adoption.in_force()
        p = self.params = replace(self.spec, values=values)
        #: risk shares of the guarantees booked this month
        self.shares = RiskShares.of(p.shares())
        self.batch_mode = _batch_pairs(
            p, len(self.banks), len(self.guarantors), self.adoption.level(8)
        )
        self.relief_sectors = np.isin(
            np.arange(len(SECTORS)), [SECTORS.index(s) for s in p["relief.sectors"]]
        )

    @property
    def survey_year(self) -> int:
        """Year of the reported horizon (1 = its first twelve months; <= 0 in the burn-in)."""
        return (self.horizon_month - 1) // 12 + 1

    # ---------------------------------------------------------------- stage 2
    def take_applications(self) -> Applications:
        """Exits and entry of firms without a loan, then this month's applicants.

        One uniform per firm and month decides: exit (below the exit rate), else
        need credit (rescaled uniform below the application rate), and its rescaled
        remainder is the applicant's take-up draw. A firm that needs credit applies
        unless it expects to be refused and is discouraged (:meth:`SME.stay_away`).
        """
        p = self.params
        s = self.smes
        u = self.rng_demand.random(s.n, dtype=np.float32)
        exit_rate = p["population.exit_rate"]
        rate = p["demand.application_rate"]
        if p["demand.mode"] == "annual_cohort" and (self.month - 1) % 12 != 0:
            rate = 0.0
        upper = exit_rate + rate * (1.0 - exit_rate)
        # one pass over all firms; the few below ``upper`` are then sorted out
        low = np.flatnonzero(u < max(upper, exit_rate))
        low = low[~s.has_loan[low]]
        u_low = u[low]
        exiting = u_low < exit_rate
        s.replace(low[exiting])
        rows = low[~exiting]  # empty when no one needs credit (then upper == exit_rate)
        # the applicant's rescaled uniform is its take-up draw, uniform on [0, 1)
        u_take = (u_low[~exiting] - exit_rate) / (upper - exit_rate) if rows.size else u_low[:0]
        needs = Applications.gather(
            s,
            rows,
            u_take,
            self.sector_pd_multiplier,
            self.relief_sectors,
            p,
            products=self.adoption.level(4),
        )
        away = SME.stay_away(needs, self)
        stayed_away = rows[away]  # needing credit without applying this year (so far)
        stayed_away = stayed_away[s.applied_year[stayed_away] != self.survey_year]
        self._count_firm_years(s.discouraged_year, stayed_away, "discouraged")
        apps = needs.subset(~away)
        self._count_firm_years(s.applied_year, apps.rows, "applicant")
        r = self.record
        r["applications"] = apps.n * self.weight
        r["applied_amount"] = apps.amount.sum() * self.weight
        r["applications_first_time"] = np.count_nonzero(apps.first_time) * self.weight
        return apps

    def _count_firm_years(self, column: np.ndarray, rows: np.ndarray, what: str) -> None:
        """Count the firms in ``rows`` not yet counted this year in ``column`` (a year
        column of the population), by size class, with their requests; mark them."""
        year = self.survey_year
        new = rows[column[rows] != year]
        column[new] = year
        if not self.in_horizon or new.size == 0:
            return
        s = self.smes
        w = self.weight
        counts = np.bincount(s.size[new], minlength=len(SIZE_CLASSES)) * w
        r = self.record
        for k, size in enumerate(SIZE_CLASSES):
            r[f"{what}_firms_{size}"] += counts[k]
        r[f"{what}_firms"] += counts.sum()
        r[f"{what}_request"] += s.request[new].sum() * w

    # ------------------------------------------------------------ stage 3-4
    # ---------------------------------------------------------------- stage 5
    def book_loans(self, apps: Applications) -> None:
        """Book the month's loans and guarantees with their fees and subsidies.

        The loans taken up (and, for guarantees, within the guarantor's caps) go into the
        loan book (:meth:`_write_loan_book`); their fees, re-guarantee and National Fund
        fees and fee subsidies are paid (:meth:`_charge_fees`); the guarantors add them
        to their evaluation statistics; the month's record notes the decisions and the
        new business (:func:`sim.outcomes.record_decisions`, :func:`record_bookings`).
        """
        guaranteed = apps.route == GUARANTEE_ROUTE
        direct = apps.taken & (apps.route == DIRECT_ROUTE)
        booked_g = apps.taken & guaranteed & apps.booked
        new = direct | booked_g
        rejected = (apps.route == REJECT) | (guaranteed & ~apps.approved)
        rejected |= guaranteed & apps.taken & apps.capacity_rejected
        apps.offered = ~rejected  # an offer the firm took up or walked away from
        self._count_firm_years(self.smes.offered_year, apps.rows[apps.offered], "offered")

        idx = np.flatnonzero(new)
        is_g = booked_g[idx]
        loan = LoanColumns(
            amount=apps.amount[idx],
            guarantor=np.where(is_g, apps.guarantor[idx], DIRECT),
            bank=apps.bank[idx],
            start=np.full(idx.size, self.month, np.int32),
            rate=apps.rate[idx],
            funding_relief=np.where(is_g, apps.funding_relief[idx], 0.0),
            reg=is_g & apps.reg_ok[idx],
            nf=is_g & apps.nf_ok[idx],
            small_micro=apps.small_micro[idx],
            sector=apps.sector[idx],
        )
        self._write_loan_book(apps, idx, loan, is_g)
        fee_amount, subsidy = self._charge_fees(apps, idx, loan, is_g)
        g_principal = loan.amount[is_g]
        Guarantor.add_new_business(
            self.guarantors,
            loan.guarantor[is_g],
            g_principal,
            g_principal * self.weight,
            loan.small_micro[is_g],
            loan.reg[is_g],
            fee_amount,
        )
        record_decisions(self.record, apps, self.weight, len(self.banks))
        record_bookings(
            self.record,
            apps,
            idx,
            loan,
            is_g,
            fee_amount,
            subsidy,
            self.exposed_sectors,
            self.weight,
        )

    def _write_loan_book(
        self, apps: Applications, idx: np.ndarray, loan: LoanColumns, is_g: np.ndarray
    ) -> None:
        """Write the new loans into their firms' loan columns and the running stocks."""
        p = self.params
        s = self.smes
        t = self.month
        term = p["loans.term_months"]
        rows = apps.rows[idx]
        s.has_loan[rows] = True
        s.loan_amount[rows] = loan.amount
        s.loan_bank[rows] = loan.bank
        s.loan_guarantor[rows] = loan.guarantor
        s.loan_rate[rows] = loan.rate
        s.loan_fee[rows] = np.where(is_g, apps.fee[idx], 0.0)
        s.loan_start[rows] = t
        # a loan booked in month t runs months t .. t + term - 1: ``term`` default draws
        # and interest payments, repaid at the end of its last month
        s.loan_maturity[rows] = t + term - 1
        self.maturing[t + term - 1] = (rows, loan)
        s.loan_reg[rows] = loan.reg
        s.loan_nf[rows] = loan.nf
        s.loan_recovery[rows] = np.where(is_g, apps.recovery[idx], apps.recovery_direct[idx])
        s.loan_funding_relief[rows] = loan.funding_relief
        uplift = p["credit.guarantee_uplift"] * (1.0 - self.shares.bank)
        s.loan_pd[rows] = np.minimum(s.pd[rows] * np.where(is_g, 1.0 + uplift, 1.0), 0.999)
        self.refresh_hazards(rows)
        if self.in_horizon:
            s.served[rows] = True
        self._add_stocks(loan, +1.0)

    def _charge_fees(
        self, apps: Applications, idx: np.ndarray, loan: LoanColumns, is_g: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pay the new guarantees' fees and subsidies, up front for the term (% p.a.).

        Returns each guarantee's fee p.a. and fee subsidy for the term (yuan, weighted).
        """
        p = self.params
        years = p["loans.term_months"] / 12.0
        g_idx = idx[is_g]
        g_principal = loan.amount[is_g]
        g_amount = g_principal * self.weight
        g_acc = self.guarantor_accounts[loan.guarantor[is_g]]
        g_reg, g_nf = loan.reg[is_g], loan.nf[is_g]
        borrowers, gov = self.acct["borrowers"], self.acct["government"]
        fee_amount = apps.fee[g_idx] * g_amount
        self.ledger.transfer("guarantee_fee", borrowers, g_acc, fee_amount * years)
        reg_risk = p["reguarantor.share"] * g_reg * g_amount
        self.ledger.transfer(
            "reguarantee_fee",
            g_acc,
            self.reguarantor.account,
            self.reguarantor.fee_rate(g_principal) * reg_risk * years,
        )
        nf_risk = p["national_fund.share"] * g_nf * g_amount
        self.ledger.transfer(
            "national_fund_fee",
            g_acc,
            self.national_fund.account,
            self.national_fund.fee_rate(g_principal) * nf_risk * years,
        )
        subsidy = apps.subsidy[g_idx] * g_amount * years
        self.ledger.transfer("fee_subsidy", gov, g_acc, subsidy)
        self.government.fee_subsidy_remaining -= subsidy.sum()
        return fee_amount, subsidy

    def _loan_columns(self, rows: np.ndarray) -> LoanColumns:
        """The loan columns of ``rows`` that the running stocks need."""
        s = self.smes
        return LoanColumns(
            amount=s.loan_amount[rows],
            guarantor=s.loan_guarantor[rows],
            bank=s.loan_bank[rows],
            start=s.loan_start[rows],
            rate=s.loan_rate[rows],
            funding_relief=s.loan_funding_relief[rows],
            reg=s.loan_reg[rows],
            nf=s.loan_nf[rows],
            small_micro=s.size[rows] <= 1,
            sector=s.sector[rows],
        )

    def booked_shares(self, start: np.ndarray) -> RiskShares:
        """The risk shares of loans booked in months ``start``: a loan keeps its split."""
        return RiskShares.of(self.shares_by_month[start])

    def _add_stocks(self, loan: LoanColumns, sign: float) -> None:
        """Add (+1) or remove (-1) loans from the running stocks."""
        w = self.weight
        amount = loan.amount * w
        g = loan.guarantor
        is_g = g >= 0
        nb, ng = len(self.banks), len(self.guarantors)
        bank = loan.bank
        self.bank_outstanding += sign * np.bincount(bank, amount, nb)
        self.bank_interest += sign * np.bincount(bank, amount * loan.rate / 12, nb)
        self.bank_funding_relief += sign * np.bincount(bank, amount * loan.funding_relief / 12, nb)
        ga = amount[is_g]
        sh = self.booked_shares(loan.start[is_g])
        liab = liability(ga, sh)
        gg = g[is_g]
        self.guarantor_liability += sign * np.bincount(gg, liab, ng)
        net = net_liability(ga, sh, loan.reg[is_g], loan.nf[is_g], gross=liab)
        self.guarantor_liability_net += sign * np.bincount(gg, net, ng)
        sm = loan.small_micro[is_g]
        self.guarantor_liability_sm += sign * np.bincount(gg[sm], liab[sm], ng)
        self.outstanding["guaranteed"] += sign * amount[is_g].sum()
        self.outstanding["direct"] += sign * amount[~is_g].sum()
        n_g = int(np.count_nonzero(is_g))
        self.active["guaranteed"] += int(sign) * n_g
        self.active["direct"] += int(sign) * (g.size - n_g)
        self.active_exposed += int(sign) * int(np.count_nonzero(self.exposed_sectors[loan.sector]))
        if sign < 0:  # running sums of positive amounts: no rounding residue below zero
            for stock in (
                self.bank_outstanding,
                self.bank_interest,
                self.bank_funding_relief,
                self.guarantor_liability,
                self.guarantor_liability_net,
                self.guarantor_liability_sm,
            ):
                np.maximum(stock, 0.0, out=stock)

    # ---------------------------------------------------------------- stage 6
    def process_defaults(self) -> None:
        """Defaults among active loans, compensation and the loss waterfall (section 5)."""
        s = self.smes
        w = self.weight
        r = self.record
        r["loan_months_direct"] = self.active["direct"] * w
        r["loan_months_guaranteed"] = self.active["guaranteed"] * w
        r["loan_months_exposed"] = self.active_exposed * w
        u = self.rng_default.random(s.n, dtype=np.float32)
        rows = np.flatnonzero(u < s.hazard)
        if rows.size == 0:
            return
        loan = self._loan_columns(rows)
        exposure = loan.amount * w
        gi = np.flatnonzero(loan.guarantor >= 0)
        alloc = self._settle_defaults(loan, exposure, gi)
        self._schedule_recoveries(s.loan_recovery[rows], loan, exposure, gi, alloc)

        # statistics: compensation rate, National Fund cap, evaluation
        released = alloc.compensation  # the guarantee liability released by compensation
        released_covered = released[loan.nf[gi]].sum()
        self.national_fund.record(released_covered, released_covered, alloc.national_fund.sum())
        Guarantor.add_released(self.guarantors, released, loan.guarantor[gi], compensated=True)
        record_defaults(r, loan, exposure, gi, alloc, released, self.exposed_sectors, w)

        self._add_stocks(loan, -1.0)
        s.replace(rows)

    def _settle_defaults(self, loan: LoanColumns, exposure: np.ndarray, gi: np.ndarray):
        """The banks write the defaulted loans down; the guarantors compensate the banks and
        are reimbursed along the loss waterfall (section 5). Returns the allocation of the
        guaranteed loans ``gi``."""
        g = loan.guarantor
        bank_acc = self.bank_accounts[loan.bank]
        led = self.ledger
        led.transfer("writedown", bank_acc, self.acct["borrowers"], exposure)
        e_g = exposure[gi]
        covered = loan.nf[gi]  # by the National Fund, if it is sharing
        alloc = allocate_loss(
            e_g,
            self.shares_by_month[loan.start[gi]],
            reguarantor_covers=loan.reg[gi],
            national_fund_covers=covered & self.national_fund.sharing,
            comp_fund_available=self.government.comp_fund_remaining,
            national_fund_available=self.national_fund.available(),
        )
        g_acc = self.guarantor_accounts[g[gi]]
        led.transfer("compensation", g_acc, bank_acc[gi], alloc.compensation)
        led.transfer(
            "reguarantee_reimbursement", self.reguarantor.account, g_acc, alloc.reguarantor
        )
        led.transfer(
            "national_fund_reimbursement", self.national_fund.account, g_acc, alloc.national_fund
        )
        led.transfer("comp_fund_reimbursement", self.acct["comp_fund"], g_acc, alloc.comp_fund)
        self.government.spend_comp_fund(alloc.comp_fund.sum())
        return alloc

    def _schedule_recoveries(self, rec_frac, loan: LoanColumns, exposure, gi, alloc) -> None:
        """Recoveries (fraction ``rec_frac`` of exposure) fall due after the lag, pro rata to
        the losses borne; the write-off tax relief after its own lag."""
        p = self.params
        led = self.ledger
        is_g = loan.guarantor >= 0
        bank_acc = self.bank_accounts[loan.bank]
        g_acc = self.guarantor_accounts[loan.guarantor[gi]]
        e_g = exposure[gi]
        lag = p["recovery.lag_months"]
        slot = (self.month + lag) % self.recovery_due.shape[0]
        direct_rec = np.where(is_g, 0.0, rec_frac * exposure)
        self.recovery_due[slot] += np.bincount(bank_acc, direct_rec, len(led.accounts))
        shared = share_recovery(rec_frac[gi] * e_g, alloc, e_g)
        due = self.recovery_due[slot]
        due += np.bincount(bank_acc[gi], shared["bank"], len(led.accounts))
        due += np.bincount(g_acc, shared["guarantor"], len(led.accounts))
        due[self.reguarantor.account] += shared["reguarantor"].sum()
        due[self.national_fund.account] += shared["national_fund"].sum()
        due[self.acct["comp_fund"]] += shared["comp_fund"].sum()
        if p["recovery.write_off"]:
            wslot = (self.month + p["recovery.write_off_months"]) % self.tax_relief_due.shape[0]
            unrecovered = alloc.guarantor - shared["guarantor"]
            # the write-off relief of the guarantors that have adopted the rules (measure 7)
            tax = p["recovery.tax_rate"] * self.adoption.level(7)
            self.tax_relief_due[wslot] += np.bincount(
                g_acc, tax * np.maximum(unrecovered, 0.0), len(led.accounts)
            )

    # ------------------------------------------------------------- stage 6b
    def accrue_monthly_flows(self) -> None:
        """Interest, funding cost and relief, operating costs, investment income."""
        p = self.params
        led = self.ledger
        banks = self.bank_accounts
        out = self.acct["outside"]
        led.transfer("interest", self.acct["borrowers"], banks, self.bank_interest)
        led.transfer(
            "funding_cost", banks, out, self.bank_outstanding * p["bank.funding_cost"] / 12
        )
        led.transfer(
            "bank_operating_cost", banks, out, self.bank_outstanding * p["bank.operating_cost"] / 12
        )
        led.transfer("funding_relief", self.acct["pboc"], banks, self.bank_funding_relief)
        ga = self.guarantor_accounts
        led.transfer(
            "guarantor_operating_cost",
            ga,
            out,
            self.guarantor_liability * p["guarantor.operating_cost"] / 12,
        )
        led.transfer(
            "investment_return",
            out,
            ga,
            np.maximum(led.balance[ga], 0.0) * p["guarantor.investment_return"] / 12,
        )

    # ---------------------------------------------------------------- stage 7
    def process_maturities(self) -> None:
        """Loans due this month are repaid; repaying gives the firm a credit history."""
        s = self.smes
        if self.month not in self.maturing:
            return
        rows, loan = self.maturing.pop(self.month)
        # loans that defaulted meanwhile are gone (their seats may hold new loans)
        alive = s.has_loan[rows] & (s.loan_maturity[rows] == self.month)
        rows = rows[alive]
        loan = LoanColumns(*(column[alive] for column in loan))
        g = loan.guarantor
        is_g = g >= 0
        w = self.weight
        released = liability(loan.amount, self.booked_shares(loan.start)) * w
        covered = is_g & loan.nf
        self.national_fund.record(0.0, released[covered].sum(), 0.0)
        Guarantor.add_released(self.guarantors, released[is_g], g[is_g], compensated=False)
        self.record["guarantee_released"] += released[is_g].sum()
        self.record["repaid"] = loan.amount.sum() * w
        self._add_stocks(loan, -1.0)
        s.first_time[rows] = False
        s.clear_loans(rows)

    # ---------------------------------------------------------------- stage 8
    def process_recoveries(self) -> None:
        """Recoveries (追偿) and write-off tax relief (核销) falling due this month."""
        led = self.ledger
        slot = self.month % self.recovery_due.shape[0]
        due = self.recovery_due[slot]
        accounts = np.flatnonzero(due)
        led.transfer("recovery", self.acct["borrowers"], accounts, due[accounts])
        self.record["recoveries"] = due.sum()
        due[:] = 0.0
        tax = self.tax_relief_due[slot]
        accounts = np.flatnonzero(tax)
        led.transfer("write_off_tax_relief", self.acct["government"], accounts, tax[accounts])
        self.record["write_off_tax_relief"] = tax.sum()
        tax[:] = 0.0

    # --------------------------------------------------------------- stage 10
    def close_month(self) -> None:
        """Stocks at month end, the month's losses, and data collection."""
        led = self.ledger
        led.close_month()
        r = self.record
        losses = party_losses(led)
        for party, value in losses.items():
            r[f"loss_{party}"] = value
        side = self.guarantee_side_accounts
        r["guarantee_side_recoveries"] = led.flows("recovery")[:, side].sum()
        r["capital_injections"] = led.flows("capital_injection").sum()
        nf = self.national_fund.account
        r["national_fund_net_loss"] = (
            led.flows("national_fund_reimbursement")[nf].sum()
            - led.flows("national_fund_fee")[:, nf].sum()
            - led.flows("recovery")[:, nf].sum()
        )
        r["fiscal_cost"] = (
            r["fee_subsidies"]
            + r["capital_injections"]
            + r["comp_fund_payouts"]
            + r["write_off_tax_relief"]
            + r["national_fund_net_loss"]
        )
        r["screening_cost"] = led.flows("screening_cost").sum()
        r["avg_guarantee_fee"] = (
            r["new_guaranteed_fee_amount"] / r["new_guaranteed"] if r["new_guaranteed"] else np.nan
        )
        r["compensation_rate"] = (
            r["compensation"] / r["guarantee_released"] if r["guarantee_released"] else np.nan
        )
        r["outstanding_direct"] = self.outstanding["direct"]
        r["outstanding_guaranteed"] = self.outstanding["guaranteed"]
        r["guarantee_liability"] = self.guarantor_liability.sum()
        r["guarantee_liability_net"] = self.guarantor_liability_net.sum()
        equity = led.balance[self.guarantor_accounts]
        r["guarantor_equity"] = equity.sum()
        r["leverage"] = (
            r["guarantee_liability"] / r["guarantor_equity"] if equity.sum() > 0 else np.inf
        )
        r["leverage_cap"] = float(np.mean([g.leverage_cap for g in self.guarantors]))
        r["capacity_headroom"] = float(
            sum(max(0.0, g.leverage_cap * g.equity - g.net_liability) for g in self.guarantors)
        )
        r["insolvent_guarantors"] = int(np.count_nonzero(equity <= 0))
        r["reguarantor_equity"] = self.reguarantor.equity
        r["national_fund_equity"] = self.national_fund.equity
        r["bank_equity"] = led.balance[self.bank_accounts].sum()
        r["national_fund_sharing"] = int(self.national_fund.sharing)
        scores = np.array([g.score for g in self.guarantors])
        r["mean_evaluation_score"] = (
            float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        )
        r["month"] = int(self.horizon_month)
        if self.in_horizon:
            for k in FLOW_SERIES:
                self.totals[k] += r[k]
            self.datacollector.collect(self)
        if self.month >= self.burn_in + self.horizon:
            self.running = False

    # ------------------------------------------------------------------ outputs
    def summary(self) -> dict[str, float]:
        """Scalar outcomes over the reported horizon (the output contract)."""
        return summarize(self)

    def summary_by_year(self) -> list[dict[str, float]]:
        """The same outcomes for each year of the horizon (``year`` 1, 2, ...)."""
        return summarize_by_year(self)


# ============================================================================ helpers
def _seed_sequence(rng) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.seed_seq.spawn(1)[0]
    if rng is None or isinstance(rng, int | np.integer):
        return np.random.SeedSequence(None if rng is None else int(rng))
    raise TypeError(f"rng must be an int, SeedSequence, Generator or None, not {type(rng)}")


def _guarantor_equity(p, n_mun: int, n_dis: int) -> np.ndarray:
    total = p["guarantor.equity"]
    share = p["guarantor.municipal_equity_share"] if n_dis > 0 else 1.0
    mun = np.full(n_mun, total * share / n_mun)
    dis = np.full(n_dis, total * (1 - share) / n_dis) if n_dis else np.zeros(0)
    return np.concatenate([mun, dis])


def _batch_pairs(p, n_banks: int, n_guarantors: int, level: float = 1.0) -> np.ndarray:
    """Batch mode of each bank-guarantor pair.

    A share ``s = batch.pair_share x level`` of the pairs (``level``: adoption level of
    measure 8, the share of the agreements signed so far), spread evenly over the pair
    list (pair k runs batch mode when ``floor((k + 1) s) > floor(k s)``), use
    ``batch.mode``.
    """
    mode = np.full((n_banks, n_guarantors), NO_BATCH, np.int8)
    code = BATCH_MODES[p["batch.mode"]]
    if code == NO_BATCH:
        return mode
    k = np.arange(n_banks * n_guarantors)
    share = p["batch.pair_share"] * level
    on = np.floor((k + 1) * share + 1e-9) > np.floor(k * share + 1e-9)
    mode.reshape(-1)[on] = code
    return mode
