"""Accounting: every flow of money between parties, recorded once.

Each transfer names a kind (guarantee fee, compensation, recovery ...), a payer
and a payee. Institutions' equity is their opening capital plus the flows they
received minus the flows they paid, so equity can change only through a
recorded flow. Outside sectors (the SMEs as borrowers, the government budget,
the PBOC, the outside world of funding markets and suppliers) have accounts too,
so that every yuan paid is a yuan received.

Principal lent and repaid is a balance-sheet swap (cash for a loan) and is not a
flow here; a default is: the bank writes the outstanding principal down, a
transfer from the bank to the borrowers who keep it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Ledger", "FLOW_KINDS"]

#: Kinds of flow, with (payer, payee) as they occur in the model.
FLOW_KINDS: tuple[str, ...] = (
    "interest",  # borrowers -> bank
    "funding_cost",  # bank -> outside
    "bank_operating_cost",  # bank -> outside
    "funding_relief",  # pboc -> bank
    "screening_cost",  # bank or guarantor -> outside
    "guarantee_fee",  # borrowers -> guarantor
    "reguarantee_fee",  # guarantor -> reguarantor
    "national_fund_fee",  # guarantor -> national fund
    "fee_subsidy",  # government -> guarantor
    "writedown",  # bank -> borrowers (principal lost on default)
    "compensation",  # guarantor -> bank (代偿)
    "reguarantee_reimbursement",  # reguarantor -> guarantor
    "national_fund_reimbursement",  # national fund -> guarantor
    "comp_fund_reimbursement",  # comp fund -> guarantor
    "recovery",  # borrowers -> loss-bearing party
    "write_off_tax_relief",  # government -> guarantor
    "capital_injection",  # government -> guarantor
    "guarantor_operating_cost",  # guarantor -> outside
    "investment_return",  # outside -> guarantor
)
_KIND = {k: i for i, k in enumerate(FLOW_KINDS)}


def _ndim(x) -> int:
    """``np.ndim(x)``, without its conversion for Python numbers and numpy arrays/scalars."""
    if isinstance(x, int | float):
        return 0
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


class Ledger:
    """Double-entry record of the flows between accounts.

    Parameters
    ----------
    accounts : list of str
        Account names (institution agents and outside sectors).
    opening : array_like
        Opening balance (equity) of each account, yuan.

    Attributes
    ----------
    balance : ndarray
        Current balance of each account (equity for institutions).
    month : ndarray, shape (n_kinds, n_accounts, n_accounts)
        This month's flows, ``month[kind, payer, payee]``; reset by
        :meth:`new_month`.
    total : ndarray
        Flows accumulated while ``recording`` (the reported horizon).
    """

    def __init__(self, accounts, opening):
        self.accounts = list(accounts)
        self._parties: dict[str, np.ndarray] = {}
        n = len(self.accounts)
        self.opening = np.asarray(opening, dtype=float).copy()
        self.balance = self.opening.copy()
        self.month = np.zeros((len(FLOW_KINDS), n, n))
        self.total = np.zeros_like(self.month)
        self.recording = False

    def party(self, name: str) -> np.ndarray:
        """Indices of a party's accounts: the account ``name`` or those named ``name:...``."""
        if name not in self._parties:
            prefix = f"{name}:"
            self._parties[name] = np.array(
                [i for i, a in enumerate(self.accounts) if a == name or a.startswith(prefix)],
                dtype=np.intp,
            )
        return self._parties[name]

    def new_month(self) -> None:
        """Start a month: clear the month's flows."""
        self.month[:] = 0.0

    def close_month(self) -> None:
        """End a month: add its flows to the horizon totals when recording."""
        if self.recording:
            self.total += self.month

    def transfer(self, kind: str, payer, payee, amount) -> None:
        """Record a payment.

        Parameters
        ----------
        kind : str
            One of :data:`FLOW_KINDS`.
        payer, payee : int or array_like of int
            Account indices; arrays pair element-wise with ``amount``.
        amount : float or array_like
            Yuan, ``>= 0``.
        """
        k = _KIND[kind]
        if _ndim(payer) == 0 and _ndim(payee) == 0 and _ndim(amount) == 0:
            a = float(amount)
            if a == 0.0:
                return
            self.month[k, payer, payee] += a
            self.balance[payer] -= a
            self.balance[payee] += a
            return
        n = len(self.accounts)
        amount = np.asarray(amount, dtype=float)
        if _ndim(payer) == 0 and amount.ndim == 1 and np.shape(payee) == amount.shape:
            # one payer: a bincount over the payees (the same sums, in the same order, as
            # the cells' bincount below: the other rows would add only zeros)
            row = np.bincount(payee, weights=amount, minlength=n)
            self.month[k, payer] += row
            self.balance[payer] -= row.sum()
            self.balance += row
            return
        if _ndim(payee) == 0 and amount.ndim == 1 and np.shape(payer) == amount.shape:
            # one payee: its inflow is the payers' column summed in account order, as the
            # column sum of the cells below is (cumsum keeps that order; sum() would not)
            col = np.bincount(payer, weights=amount, minlength=n)
            self.month[k, :, payee] += col
            self.balance -= col
            self.balance[payee] += np.cumsum(col)[-1]
            return
        # one bincount over the (payer, payee) cells, then the flows out of (row sums) and
        # into (column sums) each account
        cell = np.asarray(payer, dtype=np.int64) * n + payee
        if cell.shape != amount.shape:
            cell = np.broadcast_to(cell, amount.shape)
        flat = np.bincount(cell, weights=amount, minlength=n * n).reshape(n, n)
        self.month[k] += flat
        self.balance -= flat.sum(axis=1)
        self.balance += flat.sum(axis=0)

    def flows(self, kind: str, *, total: bool = False) -> np.ndarray:
        """Matrix ``[payer, payee]`` of one kind of flow (this month, or horizon total)."""
        src = self.total if total else self.month
        return src[_KIND[kind]]

    def net_flows(self, *, total: bool = False) -> np.ndarray:
        """Net inflow of every account over all kinds (this month or horizon total)."""
        src = self.total if total else self.month
        m = src.sum(axis=0)
        return m.sum(axis=0) - m.sum(axis=1)
