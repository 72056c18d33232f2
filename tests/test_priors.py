"""Every lever strength carries a prior and the evidence it rests on (docs/calibration.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from sim.experiments.calibration import FREE_PARAMETERS
from sim.interfaces.cli import main
from sim.interfaces.documentation import EVIDENCE_END, EVIDENCE_START, evidence_table, render
from sim.parameters import REGISTRY
from sim.priors import SWITCH, Prior, beta, loguniform, truncnorm, uniform

ROOT = Path(__file__).resolve().parents[1]
LEVERS = [k for k, p in REGISTRY.items() if p.lever or p.measure is not None]


@pytest.mark.parametrize("key", LEVERS)
def test_every_lever_and_measure_parameter_has_a_prior_and_a_source(key):
    """A prior a sampler can draw from, and a source that is not the bare word
    "assumption" (an explicit "no evidence found; wide prior" is fine)."""
    p = REGISTRY[key]
    assert isinstance(p.prior, Prior), f"{key}: no prior"
    assert p.source.strip().lower() != "assumption", f"{key}: bare 'assumption' as source"
    if p.kind in ("bool", "choice", "sectors"):
        assert p.prior.dist == "switch", key
    else:
        assert p.prior.dist != "switch", key


@pytest.mark.parametrize("key", [k for k, p in REGISTRY.items() if p.prior is not None])
def test_priors_lie_within_the_allowed_range(key):
    p = REGISTRY[key]
    if p.prior.dist == "switch":
        return
    if p.low is not None:
        assert p.prior.low >= p.low, key
    if p.high is not None:
        assert p.prior.high <= p.high, key
    draws = p.prior.ppf(np.linspace(0, 1, 11))
    assert np.all(np.diff(draws) >= 0) and draws[0] >= p.prior.low - 1e-12
    assert draws[-1] <= p.prior.high + 1e-12


def test_calibrated_parameters_carry_their_search_range():
    """The calibration's free parameters are the registry's calibrated ones, and each one's
    prior is its search range."""
    free = {fp.key: fp for fp in FREE_PARAMETERS}
    calibrated = {k for k, p in REGISTRY.items() if p.calibrated}
    assert calibrated <= set(free)
    for key in calibrated:
        prior = REGISTRY[key].prior
        assert (prior.low, prior.high) == (free[key].low, free[key].high), key


@pytest.mark.parametrize(
    ("prior", "expected"),
    [
        (uniform(1.0, 3.0), [1.0, 2.0, 3.0]),
        (loguniform(1.0, 100.0), [1.0, 10.0, 100.0]),
        (beta(2.0, 2.0, 0.0, 10.0), [0.0, 5.0, 10.0]),
        (truncnorm(0.0, 1.0, -1.0, 1.0), [-1.0, 0.0, 1.0]),
    ],
)
def test_quantile_functions(prior, expected):
    assert prior.ppf([0.0, 0.5, 1.0]) == pytest.approx(expected)


@pytest.mark.parametrize(
    "prior",
    [
        uniform(1.0, 3.0),
        loguniform(1.0, 100.0),
        beta(2.0, 5.0, 0.0, 10.0),
        truncnorm(0.2, 0.3, 0, 1),
    ],
    ids=str,
)
def test_distribution_function_inverts_the_quantile_function(prior):
    q = np.linspace(0.01, 0.99, 9)
    assert prior.cdf(prior.ppf(q)) == pytest.approx(q, abs=1e-9)
    assert prior.cdf(prior.low) == 0.0 and prior.cdf(prior.high) == 1.0


def test_switch_chooses_uniformly_and_bad_priors_are_refused():
    assert SWITCH.choose([0.0, 0.49, 0.5, 0.999], [False, True]) == [False, False, True, True]
    with pytest.raises(ValueError):
        SWITCH.ppf(0.5)
    for bad in (
        lambda: uniform(1.0, 1.0),
        lambda: loguniform(0.0, 1.0),
        lambda: beta(0.0, 1.0),
        lambda: truncnorm(0.0, 0.0, -1.0, 1.0),
        lambda: Prior("cauchy", 0.0, 1.0),
    ):
        with pytest.raises(ValueError):
            bad()


def _cli(args, capsys):
    code = main(args)
    return code, capsys.readouterr().out


def test_params_command_lists_the_levers_as_csv(capsys):
    """``gsim params --levers --format csv`` lists every lever and measure parameter with
    its prior and source."""
    code, out = _cli(["params", "--levers", "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["key"] for r in rows] == LEVERS
    assert set(rows[0]) == {"key", "default", "unit", "prior", "measure", "calibrated", "source"}
    assert all(r["prior"] and r["source"] for r in rows)


def test_params_filters(capsys):
    code, out = _cli(["params", "--measure", "4", "--format", "json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert rows and all(r["measure"] == "4" for r in rows)
    code, out = _cli(["params", "--calibrated", "--format", "json"], capsys)
    assert {r["key"] for r in json.loads(out)} == {k for k, p in REGISTRY.items() if p.calibrated}
    code, out = _cli(["params"], capsys)
    assert code == 0 and len(out.splitlines()) == len(REGISTRY)
    assert main(["params", "--measure", "13"]) == 2


def test_evidence_table_in_calibration_md_is_generated_from_the_registry():
    """docs/calibration.md carries evidence_table() between its markers; a registry change
    makes it stale (python -m sim.interfaces.documentation --check fails)."""
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    block = text[text.index(EVIDENCE_START) + len(EVIDENCE_START) : text.index(EVIDENCE_END)]
    assert block.strip("\n") == evidence_table()
    assert render(text) == text
    for key in LEVERS:
        assert f"`{key}`" in block
    fake = dict(REGISTRY)
    k = LEVERS[0]
    fake[k] = REGISTRY[k].__class__(**{**REGISTRY[k].__dict__, "source": "changed"})
    assert render(text, fake) != text
