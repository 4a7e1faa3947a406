#!/bin/bash
# Same results before and after a change: run `dcb demo` and audit / certify / coverage / complete
# on one log with two checkouts' sources, then compare every summary, table and certificate.
#   scripts/same_results.sh OLD_SRC NEW_SRC LOG.parquet [OUT_DIR]
# (OLD_SRC / NEW_SRC: the src/ directories of two checkouts, e.g. a `git worktree add` of the old
# commit; LOG: a log with the bench columns, e.g. bench/data.py log_file(2_000_000).)
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); log=$(realpath "$3"); out=${4:-$(mktemp -d)}
dcb() { python -c 'import sys; sys.argv[0] = "dcb"; from dcb_fast.cli import run; run()' "$@"; }
run() {  # $1 = src dir, $2 = output dir
  mkdir -p "$2"
  (cd "$2" && export PYTHONPATH="$1" DCB_FAST_CACHE_DIR="$2/.numba" &&
   dcb demo > demo.txt 2>&1 &&
   dcb audit "$log" -e lang,domain,model,score_bin,region,tenant -a route -w requests -o audit -q > audit.txt &&
   dcb certify "$log" -e lang,domain,model,score_bin -a route -w requests -o cert.dcbcert -q > certify.txt &&
   dcb coverage cert.dcbcert "$log" -w requests -a route -o cov -q > coverage.txt &&
   dcb complete "$log" -e lang,domain -a route -p model,score_bin,region -w requests -o comp -q > complete.txt)
}
run "$old" "$out/old"
run "$new" "$out/new"
python - "$out" <<'PY'
import filecmp, json, sys
import pyarrow.parquet as pq
out = sys.argv[1]
same = True
def check(ok, what):
    global same
    same &= ok
    print(("same    " if ok else "DIFFERS ") + what)
for t in ("demo", "audit", "certify", "coverage", "complete"):
    check(open(f"{out}/old/{t}.txt").read() == open(f"{out}/new/{t}.txt").read(), f"dcb {t} output")
for d in ("audit", "cov", "comp", "dcb-demo/audit"):
    check(json.load(open(f"{out}/old/{d}/summary.json")) == json.load(open(f"{out}/new/{d}/summary.json")), f"{d}/summary.json")
for f in ("audit/fibers.parquet", "audit/ambiguous_cases.parquet", "cov/uncovered_fibers.parquet", "comp/completion_curve.parquet"):
    check(pq.read_table(f"{out}/old/{f}").equals(pq.read_table(f"{out}/new/{f}")), f)
check(filecmp.cmp(f"{out}/old/cert.dcbcert", f"{out}/new/cert.dcbcert", shallow=False), "cert.dcbcert bytes")
sys.exit(0 if same else 1)
PY
