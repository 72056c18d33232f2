"""Find the parameters that change nothing in the baseline ("dead levers").

Each registry parameter (except the run settings) is moved to another valid value on top of
``scenarios/baseline_2021.toml``, the perturbed scenario is run with the baseline's seeds
(common random numbers), and the parameter is *dead in the baseline* when every outcome of
``sim.SUMMARY_FIELDS`` of every replication is identical to the last digit. Measures act
from the first month here (adoption delays and ramps zero), so a measure's parameter is not
reported dead merely because its ramp has not started.

A dead parameter is not necessarily a defect: a fee of the National Fund cannot matter while
the Fund shares no risk. The script writes the list, with the reason for each, between the
markers ``<!-- dead-levers:start -->`` and ``<!-- dead-levers:end -->`` of
``docs/validation.md``; a parameter found dead without a reason in ``REASONS`` is listed
as "unexplained" (and the script exits 1 so that it is noticed)::

    python benchmarks/dead_levers.py            # rewrite the section
    python benchmarks/dead_levers.py --print    # print it only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import sim
from sim.experiments.replications import run_each
from sim.outcomes import SUMMARY_FIELDS
from sim.parameters import REGISTRY, RISK_SHARE_KEYS, SECTORS

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
DOC = ROOT / "docs" / "validation.md"
START, END = "<!-- dead-levers:start -->", "<!-- dead-levers:end -->"
SIZE = {
    "run.n_smes": 20_000,
    "run.horizon": 36,
    "adoption.delay": [0.0] * 12,
    "adoption.ramp": [0.0] * 12,
}
REPS, SEED = 2, 11

#: Why a parameter is inert in the baseline, and what was done about it.
REASONS: dict[str, str] = {
    # measures whose instruments are off before 2022: they act with their measure
    "national_fund.max_loan": "the National Fund covers no business before measure 5 "
    "(coverage 0); acts with measure 5",
    "national_fund.fee": "no covered business before measure 5, so no fee; acts with measure 5",
    "national_fund.fee_small": "no covered business before measure 5, so no fee; acts with "
    "measure 5",
    "national_fund.comp_rate_cap": "no covered business before measure 5; acts with measure 5",
    "national_fund.cap_rule": "no covered business before measure 5; acts with measure 5",
    "national_fund.share": "the National Fund covers no business before measure 5 (coverage "
    "0), so its share reimburses nothing; acts with measure 5",
    "comp_fund.share": "the compensation funds have no budget before measure 2, so their "
    "share reimburses nothing; acts with measure 2",
    "comp_fund.city_budget": "the compensation funds' share is 0 before measure 2; acts with "
    "measure 2",
    "comp_fund.district_budget": "the compensation funds' share is 0 before measure 2; acts "
    "with measure 2",
    "government.fee_subsidy_rate": "the subsidy budget is 0 before measure 2; acts with it",
    "government.fee_subsidy_threshold": "no subsidy before measure 2; acts with measure 2",
    "government.fee_subsidy_budget": "the subsidy rate is 0 before measure 2; acts with it",
    "evaluation.min_score": "no capital injections before measure 2 (budget 0) and no response "
    "to the evaluation before measure 11; acts with measures 2 and 11",
    "evaluation.weights": "the weights act through the guarantors' response (measure 11) and "
    "the injections (measure 2), both off before 2022",
    "supervision.leverage_floor": "no supervisory guidance before measure 12 (guidance 0); acts "
    "with measure 12",
    "bank.guarantee_el_tolerance": "banks retain no risk before measure 9, so their retained "
    "expected loss is 0 and any tolerance passes; measure 10 acts on it with measure 9 "
    "(tests/test_mechanisms.py)",
    "bank.funding_relief": "paid only to banks retaining at least 20% of the risk (measure 9); "
    "acts with measure 9",
    "bank.moral_hazard": "screening effort depends on the bank's retained share, 0 before "
    "measure 9; acts with measure 9",
    "relief.appetite_boost": "no relief sectors before measure 5; acts with measure 5",
    "relief.fee_cut": "no relief sectors before measure 5; acts with measure 5",
    "relief.sectors": "the relief boost and fee cut are 0 before measure 5; acts with them",
    "batch.quota": "no batch pairs before measure 8 (mode none); acts with measure 8",
    "batch.pair_share": "no batch pairs before measure 8 (mode none); acts with measure 8",
    "recovery.write_off": "write-off relief falls due recovery.write_off_months after a "
    "default; none falls in the horizon when that is longer than the horizon allows",
    "recovery.write_off_months": "no write-offs before measure 7; acts with measure 7",
    "recovery.tax_rate": "no write-offs before measure 7; acts with measure 7",
    "recovery.receivables_realisation": "receivables count as pledges only with measure 4's "
    "products; acts with measure 4",
    "recovery.ip_realisation": "IP counts as a pledge only with measure 4's products; acts with "
    "measure 4",
    "population.ip_prob": "IP matters only as a pledge with measure 4's products",
    "population.ip_to_revenue": "IP matters only as a pledge with measure 4's products",
    "population.receivables_to_revenue": "receivables matter only as pledges with measure 4",
    "information.noise_reduction": "information sharing is 0 before measure 4; acts with it",
    "guarantor.exemption_strength": "the exemption is off before measure 3; acts with it",
    "reguarantor.fee_size_threshold": "the small-loan and large-loan re-guarantee fees are "
    "equal before measure 1 (0.5% both), so the threshold between them is moot; acts with "
    "measure 1",
    "demand.switching_cost": "before 2022 a guaranteed loan costs every firm more than a direct "
    "one (the guarantee fee exceeds the bank's risk premium), so no firm chooses it and the "
    "switching cost never binds; it acts when measures make guaranteed loans cheaper (fee "
    "subsidy, a bank share with funding relief)",
    # caps that do not bind at Beijing's scale
    "guarantor.fee_cap": "no fee reaches the 3% cap (risk-based fees stay near the base fee); "
    "kept as the instrument of a fee-cap policy",
    "guarantor.concentration_cap": "no single guarantee reaches 15% (or 10%) of a guarantor's "
    "net assets at Beijing's loan sizes (docs/ODD.md 7.18); measure 12 therefore acts through "
    "supervisory guidance",
    "guarantor.leverage_cap": "leverage is about 2.8x against a cap of 10x",
    "guarantor.leverage_cap_small_micro": "leverage is about 2.8x against a cap of 15x",
    # records and unused alternatives
    "bank.equity": "the banks' equity records their results and limits nothing (by design)",
    "national_fund.equity": "the Fund's equity records its results and limits nothing",
    "reguarantor.equity": "the re-guarantor's equity records its results and limits nothing",
    "credit.rho": "used only when credit.correlation is 'fixed' (the baseline uses the Basel "
    "SME rule)",
    "credit.eur_cny": "only used by the Basel firm-size adjustment, which is flat for firms "
    "below EUR 5M of sales, where almost every simulated firm is",
    "demand.max_loan": "no simulated request reaches the cap",
    "shock.start": "no shock in the baseline (multiplier 1, no shift); acts in shock scenarios",
    "shock.duration": "no shock in the baseline (multiplier 1, no shift); acts in shock scenarios",
    "shock.sectors": "the shock's PD multiplier is 1 in the baseline; acts with it",
    "shock.pd_multiplier": "no shocked sectors in the baseline; acts with shock.sectors",
    "adoption.delay": "the baseline changes no measure, so there is nothing to adopt",
    "adoption.ramp": "the baseline changes no measure, so there is nothing to adopt",
}


def perturbed(key: str, base) -> dict:
    """Overrides that move ``key`` to another valid value (shares kept summing to 1)."""
    p = REGISTRY[key]
    v = base[key]
    if key in RISK_SHARE_KEYS[1:]:
        return {key: v + 0.1, "guarantor.share": base["guarantor.share"] - 0.1}
    if key == "guarantor.share":
        return {key: v - 0.1, "reguarantor.share": base["reguarantor.share"] + 0.1}
    if p.kind == "bool":
        return {key: not v}
    if p.kind == "choice":
        choices = list(p.choices)
        return {key: choices[(choices.index(v) + 1) % len(choices)]}
    if p.kind == "sectors":
        return {key: [] if v else [SECTORS[3]]}
    if p.kind == "floats":
        if p.sums_to_one:
            new = list(v)
            shift = min(0.05, new[0])
            new[0] -= shift
            new[1] += shift
            return {key: new}
        return {key: [_moved(x, p) for x in v]}
    if p.kind == "int":
        return {key: v + 1 if p.high is None or v + 1 <= p.high else v - 1}
    return {key: _moved(v, p)}


def _moved(v: float, p) -> float:
    if v == 0:
        high = p.high if p.high is not None else 1.0
        new = min(high, max(0.1, 0.01 * high))
    else:
        new = v * 2.0
        if p.high is not None and new > p.high:
            new = v * 0.5
    if p.low is not None:
        new = max(new, p.low)
    return float(new)


def find_dead(workers: int = 2) -> list[tuple[str, dict]]:
    base = sim.load_scenario(BASELINE, overrides=SIZE)
    keys = [k for k in REGISTRY if not k.startswith(("run.", "risk_sharing."))]
    runs = [(base, k) for k in range(REPS)]
    trials = {}
    for key in keys:
        over = perturbed(key, base)
        sc = base.with_overrides(over)
        trials[key] = (over, sc)
        runs += [(sc, k) for k in range(REPS)]
    summary, _ = run_each(runs, SEED, workers=workers, timeseries=False)
    out = summary[list(SUMMARY_FIELDS)].to_numpy(float)
    ref = out[:REPS]
    dead = []
    for i, key in enumerate(keys):
        block = out[REPS * (i + 1) : REPS * (i + 2)]
        if np.array_equal(block, ref, equal_nan=True):
            dead.append((key, trials[key][0]))
    return dead


def render(dead) -> str:
    lines = [
        START,
        "",
        "| parameter | moved to | why it changes nothing in the baseline; what was done |",
        "|---|---|---|",
    ]
    for key, over in dead:
        shown = ", ".join(f"`{k} = {v}`" for k, v in over.items())
        reason = REASONS.get(key) or "**unexplained**"
        lines.append(f"| `{key}` | {shown} | {reason} |")
    lines += ["", END]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print", action="store_true", help="print the table, write nothing")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    dead = find_dead(args.workers)
    table = render(dead)
    if args.print:
        print(table)
    else:
        text = DOC.read_text(encoding="utf-8")
        if START in text and END in text:
            text = text[: text.index(START)] + table + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip("\n") + "\n\n" + table + "\n"
        DOC.write_text(text, encoding="utf-8")
        print(f"{len(dead)} parameters change nothing in the baseline; wrote {DOC}")
    unexplained = [k for k, _ in dead if not REASONS.get(k)]
    if unexplained:
        print("unexplained: " + ", ".join(unexplained), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
