"""Issue 18 on the Dask engine (a real LocalCluster, 2 worker processes): tolerant
certification, --by slices, explain and diff give what the local run gives."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dcb_fast import audit, diff, explain

from .multifile import ACTION, WEIGHT, two_worker_cluster, write_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    cluster, client = two_worker_cluster()
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    write_dataset(root)
    return SimpleNamespace(root=str(root), tmp=tmp_path)


def test_confidence_and_slices_on_dask(client, data):
    kw = dict(evidence=["tier"], action=ACTION, weight=WEIGHT, min_support=3, max_minority=0.2, by="lang")
    local = audit(data.root, **kw)
    got = audit(data.root, scheduler=client, **kw)
    assert got.run_info["engine"] == "dask"
    assert got.metrics == local.metrics
    assert got.fibers.equals(local.fibers)
    ck = audit(data.root, scheduler=client, checkpoint=str(data.tmp / "ck"), **kw)
    assert ck.metrics == local.metrics


def test_explain_and_diff_on_dask(client, data):
    kw = dict(evidence=["tier"], action=ACTION, weight=WEIGHT)
    assert explain(data.root, scheduler=client, **kw).metrics == explain(data.root, **kw).metrics
    a = audit(data.root, scheduler=client, **kw)
    b = audit(data.root, scheduler=client, min_support=50, **kw)
    assert diff(a, b).metrics == diff(audit(data.root, **kw), audit(data.root, min_support=50, **kw)).metrics


def test_sliced_replay_on_dask(client, data):
    from dcb_fast import replay

    kw = dict(evidence=["tier"], action=ACTION, weight=WEIGHT, min_support=2, by="lang")
    local = replay(data.root, splits=4, **kw)
    got = replay(data.root, splits=4, scheduler=client, **kw)
    assert got.run_info["engine"] == "dask"
    assert got.metrics == local.metrics and got.splits.equals(local.splits)
