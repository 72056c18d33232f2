"""Terms that SMEs, banks and guarantors share: the batch modes (批量担保), the
guarantors' fee schedule and the due-diligence exemption (尽职免责) in force."""

from __future__ import annotations

import numpy as np

NO_BATCH, BANK_LED, GUARANTOR_LED = 0, 1, 2
BATCH_MODES = {"none": NO_BATCH, "bank_led": BANK_LED, "guarantor_led": GUARANTOR_LED}


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
