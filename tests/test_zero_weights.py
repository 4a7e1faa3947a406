"""All-zero weights in held-out replays and the probe-acquisition replay (issue 14 item 8):
fractions of zero weight are undefined, so both refuse with a one-line error naming the column."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dcb_fast import acquisition_replay, replay
from dcb_fast.errors import DcbError


def _table():
    return pa.table({"e": [0, 0, 1, 1] * 10, "q": [0, 1, 0, 1] * 10, "d": ["a", "b", "a", "a"] * 10,
                     "w": [0.0] * 40})


def test_replay_refuses_all_zero_weights():
    with pytest.raises(DcbError, match=r"weight column 'w' sums to 0 over the 40 rows kept"):
        replay(_table(), ["e"], "d", splits=3, weight="w")


def test_acquisition_refuses_all_zero_weights():
    with pytest.raises(DcbError, match=r"weight column 'w' sums to 0 over the 40 rows kept"):
        acquisition_replay(_table(), ["e"], "d", ["q"], splits=3, weight="w")

