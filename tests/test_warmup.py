"""``dcb warmup`` compiles what audits use, says where the cache went and how long it took."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dcb_fast.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# In a fresh process (this one has compiled whatever earlier tests ran): warm up as a Dask worker
# does and run cluster tasks, then warm up fully and run audits on other data, with other types,
# rules and engines; list the kernel signatures that appeared after each warm-up.
FRESH = r"""
import json, sys, tempfile
sys.path.insert(0, {root!r})
import dcb_fast
from dcb_fast.tools.warmup import warmup; from dcb_fast.fibers.warm import kernels as _kernels
from tests.multifile import write_dataset, table

def signatures():
    return {{k: set(map(str, d.signatures)) for k, d in _kernels().items()}}

def new_since(before):
    after = signatures()
    return {{k: sorted(after[k] - before[k]) for k in after if after[k] - before[k]}}

d = tempfile.mkdtemp()
write_dataset(d)
out = {{"worker": warmup(parts_only=True)}}
before = signatures()
from dcb_fast.engines.checkpoint import PartialSpec, plan_parts, part_source
from dcb_fast.engines.dask import map_task, reduce_task
from dcb_fast.io.sources import open_source
for ev, w in ((["lang", "tier"], "requests"), (["lang"], None)):
    src = open_source(d, ev + ["route"] + ([w] if w else []))
    spec = PartialSpec.of(src, ev, "route", w, "drop", {{}})
    maps = [map_task([part_source(src, p)], spec, None, 1, 2) for p in plan_parts(src)]
    for q in (1, 2):
        reduce_task(*[m[q] for m in maps], threads=1)
out["new_after_worker_warmup"] = new_since(before)
out["full"] = warmup()
before = signatures()
for threads in (1, 2):
    r = dcb_fast.audit(d, evidence=["lang", "tier"], action="route", weight="requests", threads=threads)
    r.fibers; r.ambiguous_cases()
    dcb_fast.audit(d, evidence=["lang"], action="tier", nulls="value", threads=threads, batch_rows=77).fibers
    dcb_fast.audit(d, evidence=["requests"], action="route", rules={{"requests": "quantile:3"}}).fibers
    dcb_fast.audit(d, evidence=["requests"], action="route", rules={{"requests": "knn:7"}})
dcb_fast.audit(d, evidence=["lang", "tier"], action="route", checkpoint=tempfile.mkdtemp())
from dcb_fast.methods.certify import certify
from dcb_fast.methods.coverage import coverage
cert = certify(d, evidence=["lang", "tier"], action="route", min_support=2)
coverage(cert, table(500, 9), weight="requests", action="route")
from dcb_fast.methods.complete import complete
complete(d, ["lang"], "route", ["tier"], weight="requests", min_support=2)
out["new_after_full_warmup"] = new_since(before)
print(json.dumps(out))
"""


def test_warmup_reaches_every_kernel_signature_that_tasks_and_audits_use():
    code = FRESH.format(root=ROOT)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["new_after_worker_warmup"] == {}
    assert got["new_after_full_warmup"] == {}
    assert got["full"]["signatures"] > got["worker"]["signatures"] > 10


def test_cli_text_and_json():
    runner = CliRunner()
    res = runner.invoke(main, ["warmup", "--threads", "1", "--format", "json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["cache_dirs"] and info["seconds"] >= 0 and info["signatures"] > 0
    res = runner.invoke(main, ["warmup", "--threads", "1"])
    lines = res.stdout.splitlines()
    assert lines[0] == "cache: " + ", ".join(info["cache_dirs"])
    assert lines[1].startswith(f"kernels: {info['kernels']} (") and " compiled, " in lines[1]
    assert lines[2].startswith("took ") and lines[2].endswith(" s")


@pytest.mark.slow
def test_fresh_cache_directory(tmp_path):
    """With DCB_FAST_CACHE_DIR, the first warm-up compiles into that directory, the second loads."""
    env = dict(os.environ, DCB_FAST_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run(["dcb", "warmup", "--format", "json"], env=env, capture_output=True, text=True,
                           check=True) for _ in range(2)]
    first, second = (json.loads(r.stdout) for r in runs)
    assert all(d.startswith(str(tmp_path / "cache")) for d in first["cache_dirs"]) and first["cache_dirs"]
    assert first["compiled"] == first["signatures"] > 0 and first["loaded"] == 0
    assert second["compiled"] == 0 and second["loaded"] == first["signatures"]
