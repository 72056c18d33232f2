"""The government (财政): fee subsidies, the compensation fund, the yearly performance
evaluation (绩效评价) and capital injections."""

from __future__ import annotations

import mesa
import numpy as np

from sim.applications import (
    GUARANTEE_ROUTE,
    Applications,
)

from .guarantors import Guarantor


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
