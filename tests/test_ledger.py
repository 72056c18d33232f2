"""The ledger's transfers: the one-payer and one-payee shortcuts record exactly (bit for
bit) what the general bincount over (payer, payee) cells records."""

from __future__ import annotations

import numpy as np
import pytest

from sim.ledger import FLOW_KINDS, Ledger


def _general(ledger: Ledger, kind: str, payer, payee, amount) -> None:
    """The general path of :meth:`Ledger.transfer`, written out: one bincount over cells."""
    n = len(ledger.accounts)
    amount = np.asarray(amount, dtype=float)
    cell = np.broadcast_to(np.asarray(payer, dtype=np.int64) * n + payee, amount.shape)
    flat = np.bincount(cell, weights=amount, minlength=n * n).reshape(n, n)
    ledger.month[FLOW_KINDS.index(kind)] += flat
    ledger.balance -= flat.sum(axis=1)
    ledger.balance += flat.sum(axis=0)


def _pair(n: int, seed: int) -> tuple[Ledger, Ledger]:
    rng = np.random.default_rng(seed)
    opening = rng.normal(0, 1e9, n) * 10 ** rng.uniform(-3, 3, n)
    names = [f"a{i}" for i in range(n)]
    return Ledger(names, opening), Ledger(names, opening)


@pytest.mark.parametrize("seed", range(40))
def test_one_sided_transfers_equal_the_general_path_bit_for_bit(seed):
    """40 random sequences of 12 transfers each (amounts over 9 orders of magnitude, repeated
    accounts, the payer among the payees): the balances and flow matrices are identical."""
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(3, 40))
    fast, ref = _pair(n, seed)
    for _ in range(12):
        kind = FLOW_KINDS[int(rng.integers(len(FLOW_KINDS)))]
        m = int(rng.integers(1, 300))
        amount = rng.random(m) * 10 ** rng.uniform(0, 9, m)
        one = int(rng.integers(n))
        many = rng.integers(0, n, m)
        if rng.random() < 0.5:
            fast.transfer(kind, one, many, amount)
            _general(ref, kind, one, many, amount)
        else:
            fast.transfer(kind, many, one, amount)
            _general(ref, kind, many, one, amount)
    np.testing.assert_array_equal(fast.balance, ref.balance, strict=True)
    np.testing.assert_array_equal(fast.month, ref.month, strict=True)
    assert fast.balance.tobytes() == ref.balance.tobytes()  # -0.0 and +0.0 told apart


def test_money_is_conserved_and_flows_are_recorded_by_kind():
    led, _ = _pair(5, 0)
    before = led.balance.sum()
    led.transfer("interest", 0, np.array([1, 2, 2]), np.array([1.0, 2.0, 3.0]))
    led.transfer("compensation", np.array([3, 4]), 1, np.array([10.0, 20.0]))
    led.transfer("recovery", 2, 4, 7.0)
    np.testing.assert_allclose(led.balance.sum(), before, rtol=1e-12)
    assert led.flows("interest")[0, 2] == 5.0 and led.flows("interest")[0, 1] == 1.0
    assert led.flows("compensation")[:, 1].tolist() == [0, 0, 0, 10.0, 20.0]
    net = led.net_flows()
    assert net[1] == 1.0 + 30.0 and net[0] == -6.0
