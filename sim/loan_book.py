"""The loan book of the guarantee market: stages 5 to 8 of the monthly cycle.

:class:`LoanBook` holds the methods of :class:`~sim.model.GuaranteeMarket` that book the
month's loans and guarantees with their fees and subsidies (stage 5), settle defaults
through the loss waterfall (6), accrue the monthly flows and repay maturing loans (7) and
collect recoveries (8); :meth:`GuaranteeMarket.step <sim.model.GuaranteeMarket.step>`
calls them in order. It is a mixin: its methods act on the model's state (its SME columns,
ledger and agents), set up by ``GuaranteeMarket.__init__``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .agents import Guarantor
from .applications import DIRECT_ROUTE, GUARANTEE_ROUTE, REJECT, Applications
from .outcomes import record_bookings, record_decisions, record_defaults
from .population import DIRECT
from .risk_sharing import RiskShares, allocate_loss, liability, net_liability, share_recovery

__all__ = ["LoanBook", "LoanColumns"]


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


class LoanBook:
    """Stages 5-8 of the monthly cycle (a mixin of :class:`~sim.model.GuaranteeMarket`)."""

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
