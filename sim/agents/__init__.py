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

One module per kind of agent: :mod:`.smes`, :mod:`.banks`, :mod:`.guarantors` (with the
re-guarantor and the national fund), :mod:`.government`; :mod:`.terms` (batch modes, fee
schedule, exemption) and :mod:`.grouping` (sums by group) are shared by them.
"""

from __future__ import annotations

from .banks import Bank
from .government import Government, evaluation_dimensions
from .grouping import group_cumsum, group_sums, stable_order
from .guarantors import Guarantor, NationalFund, Reguarantor
from .institution import Institution
from .smes import SME
from .terms import BANK_LED, BATCH_MODES, GUARANTOR_LED, NO_BATCH, exemption, guarantee_fee

__all__ = [
    "SME",
    "Bank",
    "Guarantor",
    "Reguarantor",
    "NationalFund",
    "Government",
    "Institution",
    "BATCH_MODES",
    "NO_BATCH",
    "BANK_LED",
    "GUARANTOR_LED",
    "evaluation_dimensions",
    "exemption",
    "guarantee_fee",
    "group_cumsum",
    "group_sums",
    "stable_order",
]
