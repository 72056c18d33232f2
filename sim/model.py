"""The guarantee market: a Mesa model and its monthly cycle.

:class:`GuaranteeMarket` wires the agents together and runs the monthly cycle of
``docs/ODD.md`` (model.md section 3), which reads top to bottom in
:meth:`GuaranteeMarket.step`. Stages 1, 2 and 10 are methods of the model here; the
agents' rules (stages 3-4, 9) are in :mod:`sim.agents`; the loan book (stages 5-8:
booking, defaults, monthly flows, maturities, recoveries) in :mod:`sim.loan_book`.
"""

from __future__ import annotations

import copy
from functools import partial
from pathlib import Path

import mesa
import numpy as np
from scipy.special import ndtri

from .adoption import Adoption, burn_in_values, shared_months
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
from .applications import Applications
from .credit_risk import conditional_pd, monthly_hazard
from .ledger import Ledger
from .loan_book import LoanBook, LoanColumns
from .outcomes import (
    FLOW_SERIES,
    MONTHLY_SERIES,
    party_losses,
    summarize,
    summarize_by_year,
)
from .parameters import BANK_TYPES, REGISTRY, SECTORS, SHOCK_SECTORS, SIZE_CLASSES
from .population import SMEPopulation
from .risk_sharing import RiskShares
from .scenario import Scenario, default_scenario, load_scenario

__all__ = ["GuaranteeMarket"]

STREAMS = ("population", "macro", "demand", "default", "entry")


def _record_value(model, key):
    return model.record[key]


class GuaranteeMarket(LoanBook, mesa.Model):
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
        # schedules of recoveries and write-off relief: rows by month, as a ring
        self.recovery_due = np.zeros((_schedule_length(p), len(accounts)))
        self.tax_relief_due = np.zeros_like(self.recovery_due)

        # ---- SMEs: columns, and one Mesa agent per seat. The seats' ids are taken now
        # (the last ones, as if the agents were created here); the agents themselves
        # when Mesa's agent collections are first read (seat_smes)
        weights = g_equity / g_equity.sum() if g_equity.sum() > 0 else np.full(n_g, 1 / n_g)
        self.smes = SMEPopulation(n, p, weights, streams["population"])
        self.smes.rng = streams["entry"]
        self.first_sme_id = self.agent_id_counter
        self.agent_id_counter += n
        self._unseated_smes = n
        self._sme_datasets = tuple(SME._datasets)  # Mesa data sets SME(self) would join

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
    # Mesa's agent collections, the SME seats created on first use
    # ======================================================================
    _unseated_smes = 0  # SME seats whose ids are taken but whose agents are not made yet

    def seat_smes(self) -> None:
        """Create the SME agents, one per seat, if they are not there yet.

        Building the model only reserves the seats' ids (``first_sme_id`` onwards, after
        the institutions'); the agents are made here, all at once (:meth:`SME.seats`),
        and added to ``agents`` and ``agents_by_type`` as if each had been created by
        ``SME(model)`` at the end of construction: same ids, same order, the same data
        sets joined (no ``AGENT_ADDED`` signals: nothing could observe the model while
        it was being built). Every way Mesa reaches the agents (``agents``,
        ``agents_by_type``, ``agent_types``, registering or removing an agent,
        ``remove_all_agents``) calls this first, so a Mesa user sees the seats as
        always there; the monthly cycle works on the columns and never needs them.
        """
        n = self._unseated_smes
        if not n:
            return
        self._unseated_smes = 0
        seats = SME.seats(self, self.first_sme_id, n)
        self._all_agents._agents.update(dict.fromkeys(seats))
        if SME in self._agents_by_type:
            self._agents_by_type[SME]._agents.update(dict.fromkeys(seats))
        else:
            self._agents_by_type[SME] = type(self._all_agents)(seats, random=self.random)
        for name in self._sme_datasets:
            dataset = self.data_registry[name]
            for agent in seats:
                dataset.add_agent(agent)

    def _seated_agents(self):
        """All agents of the model, the SME seats included (Mesa's ``Model.agents``)."""
        self.seat_smes()
        return self._all_agents

    def _seated_agents_by_type(self):
        """Agents by type, the SME seats included (Mesa's ``Model.agents_by_type``)."""
        self.seat_smes()
        return self._agents_by_type

    def _seated_agent_types(self):
        """Types of the model's agents, SME included (Mesa's ``Model.agent_types``)."""
        self.seat_smes()
        return list(self._agents_by_type.keys())

    agents = mesa.Model.agents.getter(_seated_agents)  # Mesa's setter (refuses) kept
    agents_by_type = property(_seated_agents_by_type)
    agent_types = property(_seated_agent_types)

    def register_agent(self, agent) -> None:
        self.seat_smes()  # new agents come after the seats, as they would have
        super().register_agent(agent)

    def deregister_agent(self, agent) -> None:
        self.seat_smes()
        super().deregister_agent(agent)

    def remove_all_agents(self) -> None:
        self.seat_smes()
        super().remove_all_agents()

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

    def continue_as(self, scenario: Scenario) -> GuaranteeMarket:
        """A copy of this model that goes on, from this month, as ``scenario``.

        During the burn-in, and in the horizon's months before the earliest adoption
        delay, every measure of the 2022 package is at adoption level 0
        (:mod:`sim.adoption`): a measure's parameters are at their reference whatever a
        scenario sets them to. Two scenarios that agree on every parameter without a measure
        (:func:`~sim.adoption.burn_in_values`: run settings, calibrated structure, shocks,
        adoption delays) therefore run these :func:`~sim.adoption.shared_months` alike from
        the same seed, month for month. The copy takes ``scenario``'s measures and runs on
        exactly as ``GuaranteeMarket(scenario, rng=seed)`` would, bit for bit
        (``tests/test_burn_in.py``), so that the runs of a sweep's design points or of a
        comparison, which share seeds, compute these months once.

        Parameters
        ----------
        scenario : Scenario
            Agrees with this model's scenario on every parameter without a measure.

        Returns
        -------
        GuaranteeMarket
            An independent copy (this model is unchanged and can be continued again).

        Raises
        ------
        ValueError
            This model is past its shared months, or ``scenario`` does not share them.
        """
        last = shared_months(self.spec.values)
        if self.month > last:
            raise ValueError(
                f"continue_as: the model is at month {self.month}, past the {last} months "
                "that scenarios differing only in measures share (burn-in and horizon months "
                "before the earliest adoption delay)"
            )
        mine, theirs = burn_in_values(self.spec.values), burn_in_values(scenario.values)
        if theirs != mine:
            key = next(k for (k, a), (_, b) in zip(mine, theirs, strict=True) if a != b)
            raise ValueError(
                f"continue_as: {scenario.name} does not share {self.spec.name}'s first months "
                f"({key} = {scenario[key]!r}, not {self.spec[key]!r}; only parameters of "
                "a measure may differ)"
            )
        # the scenarios are data the model never changes, and the copy replaces them: shared
        kept = {id(x): x for x in (self.spec, self.params, self.adoption)}
        twin = copy.deepcopy(self, kept)
        twin.spec = twin.smes.p = scenario  # what GuaranteeMarket(scenario) holds
        twin.adoption = Adoption(scenario.values)
        twin.adoption.update(twin.horizon_month)
        twin._put_in_force()
        rows = _schedule_length(scenario)
        if rows != twin.recovery_due.shape[0]:
            twin.recovery_due = _relaid(twin.recovery_due, twin.month, rows)
            twin.tax_relief_due = _relaid(twin.tax_relief_due, twin.month, rows)
        return twin

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

    # ------------------------------------------------------------ stages 3-8
    # 3-4: the agents' own rules (sim.agents); 5-8: the loan book (sim.loan_book.LoanBook)

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
        caps = Guarantor.leverage_caps(self)
        r["leverage_cap"] = float(np.mean(caps))
        room = np.maximum(0.0, caps * equity - self.guarantor_liability_net)
        r["capacity_headroom"] = float(sum(room.tolist()))  # Python's (compensated) sum
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


def _schedule_length(p) -> int:
    """Rows of the recovery and write-off schedules: one more than the longest lag the
    adoption path passes through (between the reference and the scenario's value)."""
    return 1 + max(
        REGISTRY[k].default if i else p[k]
        for k in ("recovery.lag_months", "recovery.write_off_months")
        for i in (0, 1)
    )


def _relaid(due: np.ndarray, month: int, rows: int) -> np.ndarray:
    """A schedule (row ``m % len`` holds what falls due in month ``m``) on ``rows`` rows.

    The months after ``month`` keep what falls due in them; ``ValueError`` if something
    falls due too late for the new length."""
    out = np.zeros((rows, due.shape[1]))
    for ahead in range(due.shape[0]):
        row = due[(month + ahead) % due.shape[0]]
        if row.any():
            if ahead >= rows:
                raise ValueError(f"a schedule of {rows} months cannot hold month +{ahead}")
            out[(month + ahead) % rows] = row
    return out


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
