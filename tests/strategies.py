"""Hypothesis strategies: random tables with mixed types, nulls and awkward values."""

from __future__ import annotations

import datetime

import pyarrow as pa
from hypothesis import strategies as st

STRINGS = st.sampled_from(["", "a", "b", "é", "a\x00", "ab", "long-value-" + "x" * 20, "日本"])
COLUMN_KINDS = ["str", "dict_str", "large_str", "int8", "int64", "uint16", "bool", "float", "date", "ts", "binary"]


def _values(kind):
    if kind in ("str", "dict_str", "large_str"):
        return STRINGS
    if kind == "binary":
        return st.sampled_from([b"", b"\x00", b"\xff\x00", b"ab"])
    if kind == "int8":
        return st.integers(-3, 3)
    if kind == "int64":
        return st.sampled_from([0, 1, -1, 2**62, -(2**63), 2**63 - 1, 7])
    if kind == "uint16":
        return st.integers(0, 4)
    if kind == "bool":
        return st.booleans()
    if kind == "float":
        return st.sampled_from([0.0, -0.0, 1.5, float("nan"), -2.25, 1e300])
    if kind == "date":
        return st.sampled_from([datetime.date(2020, 1, 1), datetime.date(1969, 12, 31), datetime.date(2026, 11, 26)])
    if kind == "ts":
        return st.sampled_from([datetime.datetime(2020, 1, 1), datetime.datetime(2020, 1, 1, 0, 0, 1)])
    raise ValueError(kind)


ARROW_TYPES = {
    "str": pa.string(), "dict_str": pa.string(), "large_str": pa.large_string(), "int8": pa.int8(),
    "int64": pa.int64(), "uint16": pa.uint16(), "bool": pa.bool_(), "float": pa.float64(),
    "date": pa.date32(), "ts": pa.timestamp("us"), "binary": pa.binary(),
}


def to_array(values, kind):
    arr = pa.array(values, type=ARROW_TYPES[kind])
    if kind == "dict_str":
        arr = arr.dictionary_encode()
    return arr


@st.composite
def tables(draw, max_rows=60, weighted=None, nullable=True, min_cols=1, max_cols=3):
    """(rows as list of dicts, pyarrow Table, evidence names, action name, weight name or None)."""
    n = draw(st.integers(0, max_rows))
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=min_cols, max_size=max_cols))
    akind = draw(st.sampled_from(["str", "int8", "bool", "dict_str"]))
    cols, data = {}, {}
    for j, kind in enumerate(kinds):
        vals = draw(st.lists(st.one_of(_values(kind), st.none()) if nullable else _values(kind), min_size=n, max_size=n))
        cols[f"e{j}_{kind}"] = to_array(vals, kind)
        data[f"e{j}_{kind}"] = vals
    avals = draw(st.lists(st.one_of(_values(akind), st.none()) if nullable else _values(akind), min_size=n, max_size=n))
    cols["act"] = to_array(avals, akind)
    data["act"] = avals
    wname = None
    if weighted if weighted is not None else draw(st.booleans()):
        if draw(st.booleans()):  # integer weights (request counts) take their own path
            wv = draw(st.lists(st.one_of(st.sampled_from([0, 1, 3, 7, 30000]), st.none()) if nullable
                               else st.sampled_from([0, 1, 3, 7]), min_size=n, max_size=n))
            cols["w"] = pa.array(wv, type=draw(st.sampled_from([pa.int64(), pa.int16(), pa.uint32()])))
        else:
            wv = draw(st.lists(st.one_of(st.sampled_from([0, 1, 3, 0.25, 2.5, 1e6, 0.125]), st.none()) if nullable
                               else st.sampled_from([0, 1, 3, 0.25, 2.5]), min_size=n, max_size=n))
            cols["w"] = pa.array(wv, type=pa.float64())
        data["w"] = wv
        wname = "w"
    table = pa.table(cols)
    rows = [{k: data[k][i] for k in data} for i in range(n)]
    return rows, table, list(cols)[: len(kinds)], "act", wname
