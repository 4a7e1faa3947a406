"""The fiber-rule protocol and registry (issue 17): a new rule is one class and one registration,
and what the methods ask of a rule is in its attributes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import dcb_fast
from dcb_fast.core.rules import RULES, Knn, Rule, Window, parse_rule, register_rule
from dcb_fast.core.rules.base import numeric_values
from dcb_fast.errors import DcbError
from dcb_fast.fibers.state import FiberState


class Modulo(Rule):
    """``mod:K``: the value's remainder by K (a made-up rule for this test)."""

    name = "mod"
    syntax = "mod:K"
    numeric = True

    def __init__(self, k: int):
        self.k = int(k)

    @classmethod
    def parse(cls, arg):
        return cls(int(arg))

    def apply(self, arr, column):
        v = numeric_values(arr, column, self.spec())
        ok = ~np.isnan(v)
        return pa.array(np.where(ok, v, 0).astype(np.int64) % self.k, mask=~ok)

    def spec(self):
        return f"mod:{self.k}"


@pytest.fixture
def modulo():
    register_rule(Modulo)
    yield Modulo
    RULES.pop("mod", None)


def test_a_registered_rule_runs_through_the_audit(modulo):
    t = pa.table({"v": [1, 4, 7, 2, 5, 3], "a": ["x", "x", "x", "y", "y", "z"]})
    r = dcb_fast.audit(t, ["v"], "a", rules={"v": "mod:3"})
    # mod 3: {1,4,7} -> 1 (all x), {2,5} -> 2 (all y), {3} -> 0 (z): every fiber pure
    assert r.metrics["n_fibers"] == 3 and r.metrics["certifiable_fraction"] == 1.0
    assert r.summary["parameters"]["rules"] == {"v": {"rule": "mod:3"}}
    # the fiber state's serialized form names the rule, and reading it back finds it again
    back = FiberState.from_ipc(r.state.to_ipc())
    assert back.rules["v"].spec() == "mod:3" and back.n_fibers == 3


def test_a_numeric_rule_on_a_string_column_is_refused_by_its_attribute(modulo):
    t = pa.table({"v": ["p", "q"], "a": ["x", "y"]})
    with pytest.raises(DcbError, match="rule mod:3 needs a numeric column, but 'v' is string"):
        dcb_fast.audit(t, ["v"], "a", rules={"v": "mod:3"})


def test_the_unknown_rule_message_lists_the_registry(modulo):
    with pytest.raises(DcbError) as exc:
        parse_rule("nope:1")
    msg = str(exc.value)
    assert msg.startswith("unknown fiber rule 'nope:1'; use exact, quantile:N, edges:E1,E2,..., width:W[,ORIGIN], ")
    assert "mod:K" in msg and msg.endswith("mod:K")


@pytest.mark.parametrize("rule", [Knn(3), Window(tol=0.5)])
def test_a_fiber_state_refuses_overlapping_rules(rule):
    with pytest.raises(DcbError, match=f"rule {rule.spec()} for 'v' makes overlapping fibers, which a fiber "
                                       "state cannot count"):
        FiberState(["v"], "a", rules={"v": rule})
    with pytest.raises(DcbError, match="makes overlapping fibers"):
        rule.apply(pa.array([1.0]), "v")


def test_register_rule_takes_only_rules():
    with pytest.raises(TypeError):
        register_rule(int)
