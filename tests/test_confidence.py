"""Statistical confidence (issue 18, item 2): the exact Clopper-Pearson bound (the 0.0582 case,
scipy and a plain binomial-tail oracle), the fiber table's ``minority_upper``, tolerant
certification on a hand-computed table, the Wilson interval of the certified fraction,
certificates, the CLI and the checkpoint engine."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.stats as ss
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dcb_fast import audit, certify
from dcb_fast.cli import main
from dcb_fast.core.confidence import minority_upper, wilson_interval
from dcb_fast.errors import DcbError

from .reference import audit_oracle, binomial_upper_oracle, compare_metrics, wilson_oracle


def test_fifty_pure_rows_allow_a_582_permille_minority():
    got = float(minority_upper([0], [50], 0.95)[0])
    assert got == pytest.approx(1 - 0.05 ** (1 / 50), rel=1e-14)
    assert round(got, 4) == 0.0582


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_matches_scipy_beta_quantile(confidence):
    rng = np.random.default_rng(7)
    n = np.concatenate([np.arange(1, 60), rng.integers(60, 5000, 300), rng.integers(10**5, 10**7, 20)])
    x = (rng.random(len(n)) ** 3 * n).astype(np.int64)
    x[:59] = np.minimum(np.arange(59) % 7, n[:59])
    got = minority_upper(x, n, confidence)
    want = np.where(x >= n, 1.0, ss.beta.ppf(confidence, x + 1, np.maximum(n - x, 1)))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


def test_matches_the_binomial_tail_oracle_on_small_fibers():
    for n in range(1, 25):
        for x in range(0, n + 1):
            assert float(minority_upper([x], [n], 0.9)[0]) == pytest.approx(binomial_upper_oracle(x, n, 0.9),
                                                                            abs=1e-11), (x, n)


# x: 50 rows of p (pure); y: 98 p + 1 q (x = 1 of 99); z: 10 rows of p (pure); w: 3 p + 3 q
T = pa.table({"k": ["x"] * 50 + ["y"] * 99 + ["z"] * 10 + ["w"] * 6,
              "a": ["p"] * 50 + ["p"] * 98 + ["q"] + ["p"] * 10 + ["p", "q"] * 3})


def test_fiber_table_minority_upper():
    f = {r["k"]: r for r in audit(T, ["k"], "a").fibers.to_pylist()}
    assert f["x"]["minority_upper"] == pytest.approx(1 - 0.05 ** (1 / 50), rel=1e-14)
    assert f["y"]["minority_upper"] == pytest.approx(ss.beta.ppf(0.95, 2, 98), rel=1e-9)
    assert f["z"]["minority_upper"] == pytest.approx(1 - 0.05 ** (1 / 10), rel=1e-14)
    assert f["w"]["minority_upper"] == pytest.approx(ss.beta.ppf(0.95, 4, 3), rel=1e-9)
    f99 = {r["k"]: r for r in audit(T, ["k"], "a", confidence=0.99).fibers.to_pylist()}
    assert f99["x"]["minority_upper"] == pytest.approx(1 - 0.01 ** (1 / 50), rel=1e-14)


def test_strict_rule_is_the_default_and_unchanged():
    r = audit(T, ["k"], "a", min_support=2)
    compare_metrics(r.metrics, audit_oracle(T.to_pylist(), ["k"], "a", min_support=2))
    assert r.summary["parameters"]["max_minority"] is None


def test_tolerant_certification_hand_computed():
    # EPS 0.06, s 5: x (bound 0.0582) and y (0.0470) certified; z pure but its bound 0.259 is
    # above EPS: thin (too few rows to bound its minority); w mixed, bound ~0.85: ambiguous.
    # Weight 165: certified 149, thin 10, ambiguous 6
    r = audit(T, ["k"], "a", min_support=5, max_minority=0.06)
    m = r.metrics
    assert m["certifiable_fraction"] == 149 / 165
    assert m["thin_fraction"] == 10 / 165 and m["ambiguous_fraction"] == 6 / 165
    assert m["certified_rows"] == {"p": 149, "q": 0} and m["certified_fibers"] == {"p": 2, "q": 0}
    assert m["tolerated_minority_fraction"] == 1 / 165
    # s 20: w has 6 < 20 rows, thin before mixed (as under the strict rule)
    assert audit(T, ["k"], "a", min_support=20, max_minority=0.06).metrics["thin_fraction"] == 16 / 165
    assert {row["k"]: row["class"] for row in r.fibers.to_pylist()} == {"w": "ambiguous", "x": "certified",
                                                                         "y": "certified", "z": "thin"}
    # EPS 0.05: x's bound 0.0582 is too high: a pure fiber that cannot bound its minority is thin
    m = audit(T, ["k"], "a", min_support=1, max_minority=0.05).metrics
    assert m["certifiable_fraction"] == 99 / 165 and m["thin_fraction"] == 60 / 165
    assert m["n_thin_fibers"] == 2


def test_certificate_carries_the_bound_and_the_tolerant_classes(tmp_path):
    cert = certify(T, ["k"], "a", min_support=20, max_minority=0.06)
    path = str(tmp_path / "c.arrow")
    cert.save(path)
    from dcb_fast.methods.certify import Certificate

    back = Certificate.load(path)
    rows = {r["k"]: r for r in back.table.to_pylist()}
    assert rows["y"]["__class"] == "certified" and rows["y"]["__action"] == "p"
    assert rows["y"]["__minority_upper"] == pytest.approx(ss.beta.ppf(0.95, 2, 98), rel=1e-9)
    assert back.meta["max_minority"] == 0.06 and back.meta["confidence"] == 0.95
    cov = back.coverage(pa.table({"k": ["y", "y", "w", "z"]}))
    assert cov.metrics["certified_coverage"] == 0.5


def test_certified_fraction_interval_is_wilson():
    r = audit(T, ["k"], "a", min_support=20)
    m = r.metrics
    p = m["certifiable_fraction"]  # strict: x only, 50 / 165
    assert p == 50 / 165
    lo, hi = wilson_oracle(p, 165, ss.norm.ppf(0.975))
    assert (m["certified_fraction_lower"], m["certified_fraction_upper"]) == (pytest.approx(lo, abs=1e-12),
                                                                                pytest.approx(hi, abs=1e-12))
    assert m["certified_fraction_interval"] == {"method": "wilson", "confidence": 0.95, "n": 165}
    assert wilson_interval(0.0, 10) == (0.0, pytest.approx(wilson_oracle(0.0, 10, ss.norm.ppf(0.975))[1]))


def test_bad_levels_are_refused():
    with pytest.raises(DcbError, match="confidence must be strictly between 0 and 1"):
        audit(T, ["k"], "a", confidence=1.0)
    with pytest.raises(DcbError, match=r"max minority must be in \[0, 1\)"):
        audit(T, ["k"], "a", max_minority=1.5)


def test_checkpoint_engine_and_cli_agree(tmp_path):
    p = tmp_path / "t.parquet"
    pq.write_table(T, p)
    local = audit(str(p), ["k"], "a", min_support=20, max_minority=0.06)
    ck = audit(str(p), ["k"], "a", min_support=20, max_minority=0.06, checkpoint=str(tmp_path / "ck"))
    assert ck.metrics == local.metrics
    assert ck.fibers.equals(local.fibers)
    lo = wilson_oracle(149 / 165, 165, ss.norm.ppf(0.975))[0]  # x and y certified, 149 of 165 rows
    args = ["audit", str(p), "-e", "k", "-a", "a", "-s", "20", "--max-minority", "0.06", "-f", "json", "-q"]
    res = CliRunner().invoke(main, args + ["--fail-under", f"certified_fraction_lower={lo - 1e-9}"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"] == local.metrics
    assert CliRunner().invoke(main, args + ["--fail-under", f"certified_fraction_lower={lo + 1e-9}"]).exit_code == 3
    bad = CliRunner().invoke(main, ["audit", str(p), "-e", "k", "-a", "a", "--confidence", "1.2", "-q"])
    assert bad.exit_code == 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("uvw"), st.sampled_from("ab")), min_size=1, max_size=40),
       st.randoms(use_true_random=False))
def test_row_order_and_relabelled_actions_do_not_change_the_bound(rows, rnd):
    def bounds(rs):
        t = pa.table({"k": [r[0] for r in rs], "a": [r[1] for r in rs]})
        return {r["k"]: r["minority_upper"] for r in audit(t, ["k"], "a").fibers.to_pylist()}

    want = bounds(rows)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert bounds(shuffled) == want
    assert bounds([(k, {"a": "b", "b": "a"}[a]) for k, a in rows]) == want


def test_pair_table_paths_agree():
    # dense pair table (small supports), sorted keys (large supports), 2-D rows (supports >= 2**31)
    small = minority_upper([0, 1, 0, 1], [5, 9, 5, 9])
    assert small[0] == small[2] and small[1] == small[3]
    assert small[1] == pytest.approx(ss.beta.ppf(0.95, 2, 8), rel=1e-9)
    big = minority_upper([0, 1, 0], [5, 9, 5 * 10**6])
    np.testing.assert_array_equal(big[:2], small[:2])
    huge = minority_upper([0, 0], [5, 3 * 10**9])
    assert huge[0] == small[0] and huge[1] == pytest.approx(1 - 0.05 ** (1 / 3e9), rel=1e-6)
