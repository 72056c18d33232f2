"""Where the monthly step spends its time: milliseconds per month in each stage.

Wraps the stage methods that ``GuaranteeMarket.step`` calls (the model's own, so the
cycle is not re-implemented here) with timers for one run, and prints the table.
``benchmarks/run_all.py`` includes it in BENCHMARKS.md. Usage::

    python benchmarks/profile_step.py                      # 1,000,000 SMEs x 60 months
    python benchmarks/profile_step.py --smes 100000 --months 24
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import sim
from sim.agents import SME, Bank, Government, Guarantor
from sim.loan_book import LoanBook
from sim.model import GuaranteeMarket
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "beijing_2022.toml"

#: (class, method, is a staticmethod) of every stage ``GuaranteeMarket.step`` calls.
STAGES = [
    (GuaranteeMarket, "update_macro_state", False),
    (GuaranteeMarket, "adopt_measures", False),
    (GuaranteeMarket, "take_applications", False),
    (Bank, "screen", True),
    (Guarantor, "underwrite", True),
    (Bank, "fall_back", True),
    (Government, "offer_fee_subsidies", False),
    (SME, "take_up", True),
    (Bank, "pay_for_screening", True),
    (Guarantor, "allocate_capacity", True),
    (LoanBook, "book_loans", False),
    (LoanBook, "process_defaults", False),
    (LoanBook, "accrue_monthly_flows", False),
    (LoanBook, "process_maturities", False),
    (LoanBook, "process_recoveries", False),
    (Government, "evaluate_and_inject", False),
    (Government, "supervise", False),
    (GuaranteeMarket, "close_month", False),
]


@contextmanager
def timed_stages(seconds: dict[str, float]):
    """Within the block, every stage adds its wall time to ``seconds[name]``."""
    originals = []
    for cls, name, static in STAGES:
        original = cls.__dict__[name]
        func = original.__func__ if static else original
        label = f"{cls.__name__}.{name}"

        def timed(*args, _func=func, _label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return _func(*args, **kwargs)
            finally:
                seconds[_label] += time.perf_counter() - t0

        setattr(cls, name, staticmethod(timed) if static else timed)
        originals.append((cls, name, original))
    try:
        yield seconds
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def profile(n: int, months: int, seed: int = 1) -> list[tuple[str, float]]:
    """Milliseconds per month by stage (and the step's remainder) for ``beijing_2022``."""
    sc = load_scenario(
        SCENARIO, overrides={"run.n_smes": n, "run.burn_in": 0, "run.horizon": months}
    )
    model = sim.GuaranteeMarket(sc, rng=seed)
    seconds: dict[str, float] = defaultdict(float)
    with timed_stages(seconds):
        t0 = time.perf_counter()
        model.run()
        total = time.perf_counter() - t0
    rows = sorted(seconds.items(), key=lambda kv: -kv[1])
    rows.append(("rest of the step", total - sum(seconds.values())))
    rows.append(("total", total))
    return [(name, s / months * 1e3) for name, s in rows]


def table(rows: list[tuple[str, float]]) -> list[str]:
    """Markdown rows: stage, ms per month, share of the total."""
    total = rows[-1][1]
    out = ["| stage | ms per month | share |", "|---|---|---|"]
    out += [f"| `{name}` | {ms:.2f} | {ms / total:.0%} |" for name, ms in rows[:-1]]
    out.append(f"| total | {total:.2f} | |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smes", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print("\n".join(table(profile(args.smes, args.months, args.seed))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
