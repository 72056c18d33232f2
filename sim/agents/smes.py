"""The SMEs: :class:`SME`, one seat of the SME sample (a thin Mesa view onto a row of
the population columns); their monthly rules (staying away, take-up) act on all the
columns at once."""

from __future__ import annotations

import gc
from itertools import repeat

import mesa
import numpy as np

from sim.applications import (
    DIRECT_ROUTE,
    GUARANTEE_ROUTE,
    Applications,
    estimate_pd,
    screening_noise,
)
from sim.parameters import SECTORS, SIZE_CLASSES

from .terms import exemption


class SME(mesa.Agent):
    """One seat of the representative SME sample (中小微企业).

    The agent holds no state of its own: its attributes are read from row
    ``row`` of ``model.smes``. Use it for inspection, AgentSet queries and
    agent-level reporters; the monthly behaviour of all SMEs is computed over
    the columns by the model. The seats have consecutive ids, so the row is the
    agent's ``unique_id`` less the first seat's.

    The model reserves the seats' ids when it is built and creates the agents
    themselves only when Mesa's agent collections are first read (see
    :meth:`GuaranteeMarket.seat_smes <sim.model.GuaranteeMarket.seat_smes>`), all
    at once by :meth:`seats`: the monthly cycle never needs them.
    """

    @classmethod
    def seats(cls, model, first_id: int, n: int) -> list[SME]:
        """``n`` seats of ``model`` with ids ``first_id, first_id + 1, ...``, as
        ``SME(model)`` would create them (attributes ``model``, ``unique_id``, ``pos``),
        without registering them: the caller adds them to the model's agent sets.

        Built in bulk (no per-agent ``__init__``, garbage collection paused), about
        ten times cheaper than calling ``SME(model)`` ``n`` times.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            agents = list(map(object.__new__, repeat(cls, n)))
            states = [
                {"model": model, "unique_id": uid, "pos": None}
                for uid in range(first_id, first_id + n)
            ]
            list(map(object.__setattr__, agents, repeat("__dict__", n), states))
        finally:
            if collecting:
                gc.enable()
        return agents

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
