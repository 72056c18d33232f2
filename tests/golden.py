"""Golden-output helpers: a finished model's state as named arrays, and an exact comparison.

Step S0 of ``docs/dev/stacked_replications.md``. :func:`final_state` reads every piece of a
:class:`sim.GuaranteeMarket`'s state that a later month would read (and the outputs it has
built up) into a flat ``dict`` of numpy arrays with hierarchical names
(``"population.pd"``, ``"ledger.balance"``, ``"guarantors.drive"`` ...): scalars become 0-d
arrays, dtypes are kept. :func:`assert_state_equal` compares two such dicts bit for bit.
:func:`run_outputs` adds the summary (``summary.<field>``) and the monthly series
(``ts.<column>``) of a run, the content of a golden file (``tests/test_golden_state.py``).

The keys name what the state *means*, not where it lives: a refactor that moves state (the
guarantors' scores into a ``(G,)`` array, the National Fund's window into ``(R, 12)``)
changes :func:`final_state`, not the keys, so that its results can be checked against the
files written before it. :data:`SKIPPED` lists the attributes deliberately left out, with
the reason; ``tests/test_golden_state.py`` checks that every attribute of the model and its
parts is either read here or listed there, so that new state cannot slip past the harness.
Keys under ``mesa.`` hold Mesa's own bookkeeping (agent ids, step counter, Mesa's random
generators), which a stacked engine without Mesa agents would not reproduce.
"""

from __future__ import annotations

import numpy as np

__all__ = ["final_state", "run_outputs", "assert_state_equal", "rng_state", "SKIPPED"]

#: Attributes not in :func:`final_state`, by object, with the reason. Mesa's base-class
#: attributes of the model (``mesa.Model.__init__``) are handled in the test that uses this.
SKIPPED: dict[str, dict[str, str]] = {
    "model": {
        "spec": "the scenario as given: an input, constant (the values in force are params.*)",
        "datacollector": "the monthly series: compared as ts.* (run_outputs)",
        "_sme_datasets": "names of the Mesa data sets an SME seat would join: constant",
    },
    "population": {
        "p": "the scenario as given (model.spec): an input, constant",
        "_views": "cached views of the record columns (dropped on copy)",
        "applicant": "expanded into its fields, population.<field>",
        "loan": "expanded into its fields, population.<field>",
    },
    "ledger": {"_parties": "cache of account indices by party name, derived from accounts"},
    "adoption": {
        "values": "the scenario's values (model.spec.values): an input, constant",
        "_delay": "adoption.delay of the scenario: an input, constant",
        "_ramp": "adoption.ramp of the scenario: an input, constant",
    },
    # the institutions' Mesa attributes: ``model`` is the back reference, ``pos`` None
    "institution": {"model": "back reference", "pos": "Mesa grid position, unused (None)"},
}

#: Attributes :func:`final_state` reads, by object (for the completeness test).
READ: dict[str, set[str]] = {
    "model": {
        "month", "weight", "burn_in", "horizon", "params", "adoption", "shares", "batch_mode",
        "relief_sectors", "shares_by_month", "z", "z_sector", "sector_pd_multiplier", "z_shift",
        "shocked_sectors", "exposed_sectors", "guarantor_liability", "guarantor_liability_net",
        "guarantor_liability_sm", "bank_outstanding", "bank_interest", "bank_funding_relief",
        "outstanding", "active", "active_exposed", "maturing", "recovery_due", "tax_relief_due",
        "acct", "bank_accounts", "guarantor_accounts", "guarantee_side_accounts", "record",
        "totals", "ledger", "smes", "banks", "guarantors", "reguarantor", "national_fund",
        "government", "rng_macro", "rng_demand", "rng_default", "first_sme_id",
        "_unseated_smes",
    },
    "population": {
        "n", "next_firm_id", "exits", "cdf", "rng", "firm_id", "revenue", "rho", "served",
        "applied_year", "offered_year", "discouraged_year", "has_loan", "hazard",
    },
    "ledger": {"accounts", "balance", "opening", "month", "total", "recording"},
    "adoption": {"_levels", "changed", "measures"},
    "guarantor": {
        "index", "tier", "account", "opening_equity", "score", "drive", "year", "name",
        "unique_id",
    },
    "bank": {"index", "kind", "account", "name", "unique_id"},
    "reguarantor": {"account", "name", "unique_id"},
    "national_fund": {
        "sharing", "window_comp", "window_released", "window_paid", "months_recorded", "_slot",
        "account", "name", "unique_id",
    },
    "government": {
        "fee_subsidy_remaining", "city_fund_remaining", "district_fund_remaining", "account",
        "unique_id",
    },
}  # fmt: skip

#: The population's plain (non-record) columns and counters.
_POPULATION_COLUMNS = (
    "firm_id",
    "revenue",
    "rho",
    "served",
    "applied_year",
    "offered_year",
    "discouraged_year",
    "has_loan",
    "hazard",
)
#: Fields of ``LoanColumns`` kept in the ``maturing`` schedule.
_MATURING_FIELDS = (
    "amount",
    "guarantor",
    "bank",
    "start",
    "rate",
    "funding_relief",
    "reg",
    "nf",
    "small_micro",
    "sector",
)


def _arr(value) -> np.ndarray:
    """``value`` as an array (a copy; a scalar as a 0-d array with its own dtype)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    return np.asarray(value).copy()


def rng_state(generator) -> np.ndarray:
    """A numpy ``Generator``'s PCG64 state as ``uint64[6]``: state (hi, lo), inc (hi, lo),
    ``has_uint32``, ``uinteger``."""
    st = generator.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise TypeError(f"unexpected bit generator {st['bit_generator']}")
    mask = (1 << 64) - 1
    s, inc = st["state"]["state"], st["state"]["inc"]
    words = [s >> 64, s & mask, inc >> 64, inc & mask, st["has_uint32"], st["uinteger"]]
    return np.array(words, dtype=np.uint64)


def _python_random_state(rnd) -> tuple[np.ndarray, np.ndarray]:
    """A ``random.Random``'s state: ``int64[626]`` (version, Mersenne Twister words and
    position) and its cached Gaussian (NaN if none)."""
    version, internal, gauss = rnd.getstate()
    return np.array([version, *internal], dtype=np.int64), np.float64(
        np.nan if gauss is None else gauss
    )


def final_state(model) -> dict[str, np.ndarray]:
    """Every piece of ``model``'s state that a later month would read, as named arrays.

    Parameters
    ----------
    model : sim.GuaranteeMarket
        A model (usually finished: after ``run()``).

    Returns
    -------
    dict of str to ndarray
        Hierarchical keys (``population.*``, ``ledger.*``, ``stocks.*``, ``schedule.*``,
        ``guarantors.*``, ``banks.*``, ``reguarantor.*``, ``national_fund.*``,
        ``government.*``, ``macro.*``, ``policy.*``, ``params.*``, ``adoption.*``,
        ``record.*``, ``totals.*``, ``accounts.*``, ``rng.*``, ``model.*``, ``mesa.*``);
        copies, so that the model may run on.
    """
    out: dict[str, np.ndarray] = {}

    def put(key, value):
        if key in out:
            raise KeyError(f"duplicate state key {key}")
        out[key] = _arr(value)

    # ---- run position
    put("model.month", model.month)
    put("model.weight", model.weight)
    put("model.burn_in", model.burn_in)
    put("model.horizon", model.horizon)

    # ---- random streams (the population's entry stream is rng.entry)
    put("rng.macro", rng_state(model.rng_macro))
    put("rng.demand", rng_state(model.rng_demand))
    put("rng.default", rng_state(model.rng_default))
    put("rng.entry", rng_state(model.smes.rng))

    # ---- SME population: every field of the two records, the plain columns, the counters
    s = model.smes
    for records in (s.applicant, s.loan):
        for name in records.dtype.names:
            put(f"population.{name}", np.ascontiguousarray(records[name]))
    for name in _POPULATION_COLUMNS:
        put(f"population.{name}", getattr(s, name))
    put("population.n", s.n)
    put("population.next_firm_id", s.next_firm_id)
    put("population.exits", s.exits)
    for name, cdf in s.cdf.items():
        put(f"population.cdf.{name}", cdf)

    # ---- ledger
    led = model.ledger
    put("ledger.accounts", np.array(led.accounts))
    put("ledger.opening", led.opening)
    put("ledger.balance", led.balance)
    put("ledger.month", led.month)
    put("ledger.total", led.total)
    put("ledger.recording", led.recording)
    put("accounts.index", np.array(list(model.acct.values())))
    put("accounts.name", np.array(list(model.acct.keys())))
    put("accounts.bank", model.bank_accounts)
    put("accounts.guarantor", model.guarantor_accounts)
    put("accounts.guarantee_side", model.guarantee_side_accounts)

    # ---- running stocks of the loan book
    for name in (
        "bank_outstanding",
        "bank_interest",
        "bank_funding_relief",
        "guarantor_liability",
        "guarantor_liability_net",
        "guarantor_liability_sm",
    ):
        put(f"stocks.{name}", getattr(model, name))
    for name, value in model.outstanding.items():
        put(f"stocks.outstanding.{name}", value)
    for name, value in model.active.items():
        put(f"stocks.active.{name}", value)
    put("stocks.active_exposed", model.active_exposed)

    # ---- schedules: maturing loans (month -> rows, columns), flattened in month order with
    # the bounds of each month's block; recoveries and tax relief due (ring buffers)
    months = sorted(model.maturing)
    blocks = [model.maturing[m] for m in months]
    put("schedule.maturing.months", np.array(months, dtype=np.int64))
    put(
        "schedule.maturing.bounds",
        np.cumsum([0] + [rows.size for rows, _ in blocks], dtype=np.int64),
    )
    put("schedule.maturing.rows", _concat([rows for rows, _ in blocks], "rows"))
    for k, field in enumerate(_MATURING_FIELDS):
        put(f"schedule.maturing.{field}", _concat([loan[k] for _, loan in blocks], field))
    put("schedule.recovery_due", model.recovery_due)
    put("schedule.tax_relief_due", model.tax_relief_due)

    # ---- institutions
    gs = model.guarantors
    put("guarantors.index", np.array([g.index for g in gs]))
    put("guarantors.tier", np.array([g.tier for g in gs]))
    put("guarantors.name", np.array([g.name for g in gs]))
    put("guarantors.account", np.array([g.account for g in gs]))
    put("guarantors.equity", led.balance[model.guarantor_accounts])
    put("guarantors.opening_equity", np.array([g.opening_equity for g in gs], dtype=float))
    put("guarantors.score", np.array([g.score for g in gs], dtype=float))
    put("guarantors.drive", np.array([g.drive for g in gs], dtype=float))
    for key in gs[0].year if gs else ():
        put(f"guarantors.year.{key}", np.array([g.year[key] for g in gs], dtype=float))
    bs = model.banks
    put("banks.index", np.array([b.index for b in bs]))
    put("banks.kind", np.array([b.kind for b in bs]))
    put("banks.name", np.array([b.name for b in bs]))
    put("banks.account", np.array([b.account for b in bs]))
    put("banks.equity", led.balance[model.bank_accounts])
    reg = model.reguarantor
    put("reguarantor.name", reg.name)
    put("reguarantor.account", reg.account)
    put("reguarantor.equity", reg.equity)
    nf = model.national_fund
    put("national_fund.name", nf.name)
    put("national_fund.account", nf.account)
    put("national_fund.equity", nf.equity)
    put("national_fund.sharing", nf.sharing)
    put("national_fund.window_comp", nf.window_comp)
    put("national_fund.window_released", nf.window_released)
    put("national_fund.window_paid", nf.window_paid)
    put("national_fund.months_recorded", nf.months_recorded)
    put("national_fund.slot", nf._slot)
    gov = model.government
    put("government.account", gov.account)
    put("government.fee_subsidy_remaining", gov.fee_subsidy_remaining)
    put("government.city_fund_remaining", gov.city_fund_remaining)
    put("government.district_fund_remaining", gov.district_fund_remaining)

    # ---- macro state
    put("macro.z", model.z)
    put("macro.z_sector", model.z_sector)
    put("macro.z_shift", model.z_shift)
    put("macro.sector_pd_multiplier", model.sector_pd_multiplier)
    put("macro.shocked_sectors", model.shocked_sectors)
    put("macro.exposed_sectors", model.exposed_sectors)

    # ---- policy in force: adoption levels, the parameter values they give, shares, pairs
    ad = model.adoption
    put("adoption.levels", ad._levels)
    put("adoption.measures", np.array(sorted(ad.measures), dtype=np.int64))
    put("adoption.changed.key", np.array(list(ad.changed), dtype=str))
    put("adoption.changed.measure", np.array(list(ad.changed.values()), dtype=np.int64))
    for key, value in model.params.values.items():
        put(f"params.{key}", value)
    put("policy.shares", np.array(tuple(model.shares), dtype=float))
    put("policy.shares_by_month", model.shares_by_month)
    put("policy.batch_mode", model.batch_mode)
    put("policy.relief_sectors", model.relief_sectors)

    # ---- the month's record (the summary reads its last values) and the horizon's flows
    for key, value in model.record.items():
        put(f"record.{key}", value)
    for key, value in model.totals.items():
        put(f"totals.{key}", value)

    # ---- Mesa's own bookkeeping
    put("mesa.steps", model.steps)
    put("mesa.time", model.time)
    put("mesa.running", model.running)
    put("mesa.agent_id_counter", model.agent_id_counter)
    put("mesa.first_sme_id", model.first_sme_id)
    put("mesa.unseated_smes", model._unseated_smes)
    put("mesa.rng", rng_state(model.rng))
    words, gauss = _python_random_state(model.random)
    put("mesa.random.state", words)
    put("mesa.random.gauss", gauss)
    put("mesa.unique_id.guarantors", np.array([g.unique_id for g in gs]))
    put("mesa.unique_id.banks", np.array([b.unique_id for b in bs]))
    put(
        "mesa.unique_id.others",
        np.array([reg.unique_id, nf.unique_id, gov.unique_id]),
    )
    return out


def _concat(parts: list[np.ndarray], what: str) -> np.ndarray:
    """Concatenate one column of the ``maturing`` blocks; all blocks must share its dtype."""
    dtypes = {p.dtype for p in parts}
    if len(dtypes) > 1:
        raise TypeError(f"maturing column {what} has several dtypes: {sorted(map(str, dtypes))}")
    if not parts:
        return np.zeros(0)
    return np.concatenate(parts)


def run_outputs(model) -> dict[str, np.ndarray]:
    """The outputs of a finished run: ``summary.<field>`` (0-d arrays, in the summary's
    order), ``ts.<column>`` (the DataCollector's columns) and ``ts.index``."""
    out = {f"summary.{k}": _arr(v) for k, v in model.summary().items()}
    frame = model.datacollector.get_model_vars_dataframe()
    out["ts.index"] = frame.index.to_numpy().copy()
    for column in frame.columns:
        out[f"ts.{column}"] = frame[column].to_numpy().copy()
    return out


def _differing(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the elements of two same-shape, same-dtype arrays that differ.

    Exact: floats compare by value with NaN equal to NaN (whatever its sign or payload),
    and a zero's sign counts (``-0.0`` differs from ``0.0``); everything else by ``==``.
    """
    if x.dtype.kind in "fc":
        both_nan = np.isnan(x) & np.isnan(y)
        diff = (x != y) & ~both_nan
        if x.dtype.kind == "f":
            diff |= (np.signbit(x) != np.signbit(y)) & ~both_nan
        return diff
    return np.asarray(x != y)


def assert_state_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Assert that two state dicts are equal bit for bit (NaN equal to NaN).

    Same keys, and for each key the same dtype, the same shape and the same values. Fails
    on the first key (in the order of ``a``) that differs, naming it and the number of
    elements that differ.

    Raises
    ------
    AssertionError
    """
    missing = [k for k in a if k not in b]
    extra = [k for k in b if k not in a]
    if missing or extra:
        raise AssertionError(f"state keys differ: only in a: {missing}; only in b: {extra}")
    for key, x in a.items():
        x, y = np.asarray(x), np.asarray(b[key])
        if x.dtype != y.dtype:
            raise AssertionError(f"{key}: dtype {x.dtype} != {y.dtype}")
        if x.shape != y.shape:
            raise AssertionError(f"{key}: shape {x.shape} != {y.shape}")
        diff = _differing(x, y)
        n = int(np.count_nonzero(diff))
        if n:
            flat = int(np.argmax(diff.reshape(-1)))
            first = tuple(int(i) for i in np.unravel_index(flat, x.shape))
            raise AssertionError(
                f"{key}: {n} of {x.size} elements differ (first at index {first}: "
                f"{x[first].item()!r} != {y[first].item()!r})"
            )
