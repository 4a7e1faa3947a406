"""Readable terminal tables for summaries."""

from __future__ import annotations


def pct(x: float) -> str:
    return f"{100.0 * x:6.2f}%"


def render_audit(summary: dict) -> str:
    p, m, inp = summary["parameters"], summary["metrics"], summary["input"]
    files = inp.get("files") or []
    src = f"{len(files)} file{'s' if len(files) != 1 else ''}" if files else "in-memory table"
    lines = [
        f"dcb audit  evidence: {', '.join(p['evidence'])}  action: {p['action']}"
        + (f"  weight: {p['weight']}" if p.get("weight") else ""),
        f"  input        {src}, {m['n_rows']:,} rows used, {m['dropped_rows']:,} dropped"
        + (f" (total weight {m['total_weight']:,.6g})" if p.get("weight") else ""),
        f"  fibers       {m['n_fibers']:,}  mixed {m['n_mixed_fibers']:,} ({m['mixed_fiber_fraction']:.1%})"
        + (f"  thin {m['n_thin_fibers']:,} (support < {p['min_support']})" if p["min_support"] > 1 else ""),
        "",
        f"  certified    {pct(m['certifiable_fraction'])}   " + _by_action(m, "certified_rows"),
        *_interval(p, m),
        f"  ambiguous    {pct(m['ambiguous_fraction'])}",
        f"  thin         {pct(m['thin_fraction'])}",
        f"  decision risk {pct(m['decision_risk'])[1:]}  (error of acting on each fiber's majority)",
        "  prevalence   " + "  ".join(f"{a}: {m['prevalence'][a]:.2%}" for a in m["actions"][:8])
        + ("  ..." if len(m["actions"]) > 8 else ""),
        f"  fiber size   median {m['fiber_size']['median']:g}, p90 {m['fiber_size']['p90']:g}, max {m['fiber_size']['max']:,}",
    ]
    if m.get("by") is not None:
        lines += ["", f"  by {p['by']}:  {'rows':>10}  {'certified':>9}  {'ambiguous':>9}  {'thin':>8}  {'fibers':>8}"]
        for r in m["by"][:30]:
            lines.append(f"    {str(r['value']):>12}  {r['n_rows']:>10,}  {pct(r['certifiable_fraction']):>9}  "
                         f"{pct(r['ambiguous_fraction']):>9}  {pct(r['thin_fraction']):>8}  {r['n_fibers']:>8,}")
        if len(m["by"]) > 30:
            lines.append(f"    ... {len(m['by']) - 30} more values in audit_by.parquet / --format json")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)


def _interval(p: dict, m: dict) -> list[str]:
    if "certified_fraction_lower" not in m:
        return []
    iv = m["certified_fraction_interval"]
    out = [f"               {iv['confidence']:.0%} interval {m['certified_fraction_lower']:.2%} - "
           f"{m['certified_fraction_upper']:.2%} ({iv['method']}, n = {iv['n']:,} rows)"]
    if p.get("max_minority") is not None:
        out.append(f"               tolerant rule: minority_upper <= {p['max_minority']:g} at {p['confidence']:.0%}; "
                   f"tolerated minority {m['tolerated_minority_fraction']:.2%} of the weight")
    return out


def _by_action(m: dict, key: str) -> str:
    items = [f"{a}={m[key][a]:,}" for a in m["actions"][:6]]
    if len(m["actions"]) > 6:
        items.append("...")
    return "(rows by action: " + ", ".join(items) + ")"


def render_certificate(d: dict) -> str:
    cal = d["calibration"]
    f = d["fibers"]
    w = d["weight_by_class"]
    lines = [
        f"certificate  {d['format']} (dcb_fast {d['dcb_fast_version']})",
        f"  evidence     {', '.join(d['evidence'])}   action: {d['action']}"
        + (f"   weight: {d['weight']}" if d.get("weight") else ""),
        "  rules        " + ", ".join(f"{c}={r['rule'] if isinstance(r, dict) else r}" for c, r in d["rules"].items()),
        f"  min support  {d['min_support']}   nulls: {d['nulls']}   global majority: {d['global_majority']}"
        + (f"   tolerant: minority_upper <= {d['max_minority']:g} at {d['confidence']:.0%}"
           if d.get("max_minority") is not None else ""),
        f"  calibration  {cal['n_rows']:,} rows, fingerprint {str(cal['input'].get('fingerprint', ''))[:16]}",
        f"  fibers       certified {f['certified']:,}  ambiguous {f['ambiguous']:,}  thin {f['thin']:,}",
        f"  weight       certified {pct(w['certified'])}  ambiguous {pct(w['ambiguous'])}  thin {pct(w['thin'])}",
        "  certified fibers by action: " + ", ".join(f"{a}={n:,}" for a, n in d["certified_fibers_by_action"].items()),
    ]
    for r in d.get("heaviest_fibers", []):
        key = ", ".join(f"{c}={r.get(c)}" for c in d["evidence"])
        lines.append(f"    {key}: {r['class']}, {r['rows']:,} rows" + (f", action {r['action']}" if r["action"] is not None else ""))
    return "\n".join(lines)


def render_coverage(summary: dict) -> str:
    m, p = summary["metrics"], summary["parameters"]
    lines = [
        f"dcb coverage  evidence: {', '.join(p['evidence'])}" + (f"  weight: {p['weight']}" if p.get("weight") else ""),
        f"  production   {m['n_rows']:,} rows used, {m['dropped_rows']:,} dropped, {m['n_fibers']:,} fibers",
        "",
        f"  benchmark coverage  {pct(m['benchmark_coverage'])}   (keys the calibration saw)",
        f"  certified coverage  {pct(m['certified_coverage'])}   (action determined by the evidence)",
        f"  ambiguous           {pct(m['ambiguous_coverage'])}",
        f"  thin                {pct(m['thin_coverage'])}",
        f"  unseen              {pct(m['unseen_fraction'])}" +
        (f"   ({pct(m['null_evidence_fraction']).strip()} with a null evidence value)"
         if m.get("null_evidence_fraction") else ""),
    ]
    if m.get("certified_coverage_by_action"):
        lines.append("  certified by action " + "  ".join(f"{a}: {v:.2%}" for a, v in m["certified_coverage_by_action"].items()))
    if "false_decisions" in m:
        fd = m["false_decisions"]
        lines += [
            "",
            f"  false decisions     certificate {fd['certificate']:.3%}, fiber majority {fd['fiber_majority']:.3%}, "
            f"global majority {fd['global_majority']:.3%}",
            f"  certify-then-acquire acquires {m['acquisitions']:.2%} of traffic; error among certified "
            + (f"{m['error_among_certified']:.3%}" if m["error_among_certified"] is not None
               else "undefined (no labelled traffic is certified)"),
        ]
    if m.get("top_uncovered"):
        lines += ["", "  top uncovered fibers (by traffic):"]
        for r in m["top_uncovered"][:10]:
            key = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("rows", "weight", "class", "calibration_rows"))
            lines.append(f"    {key}: {r['weight']:,.6g} ({r['class']}, {r['calibration_rows']} calibration rows)")
    if m.get("by"):
        lines += ["", f"  by {p['by']}:  benchmark / certified coverage"]
        for r in m["by"][:30]:
            lines.append(f"    {str(r['value']):>12}  {pct(r['benchmark_coverage'])}  {pct(r['certified_coverage'])}")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)


def render_sweep(summary: dict) -> str:
    m, p = summary["metrics"], summary["parameters"]
    lines = [f"dcb sweep  evidence: {p['evidence']}  action: {p['action']}  models: {m['models']}", ""]
    if m["models"] > 1:
        lines.append(f"  {'rule':<14}{'median cert.':>14}{'mean cert.':>12}{'median amb.':>13}")
        for r in m["by_rule"]:
            lines.append(f"  {r['rule']:<14}{pct(r['median_certifiable']):>14}{pct(r['mean_certifiable']):>12}"
                         f"{pct(r['median_ambiguous']):>13}")
        lines.append("")
    lines.append(f"  {'model':<16}{'rule':<14}{'certified':>10}{'ambiguous':>10}{'thin':>9}{'fibers':>10}"
                 f"{'mixed':>9}{'median size':>13}")
    for r in m["rows"][:200]:
        lines.append(f"  {r['model'][:15]:<16}{r['rule']:<14}{pct(r['certifiable_fraction']):>10}"
                     f"{pct(r['ambiguous_fraction']):>10}{pct(r['thin_fraction']):>9}{r['n_fibers']:>10,}"
                     f"{r['n_mixed_fibers']:>9,}{r['median_fiber_size']:>13g}")
    if len(m["rows"]) > 200:
        lines.append(f"  ... {len(m['rows']) - 200} more rows in sweep.parquet / --format json")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)


def render_completion(summary: dict) -> str:
    m, p = summary["metrics"], summary["parameters"]
    held = p.get("holdout") is not None
    lines = [f"dcb complete  evidence: {', '.join(p['evidence'])}  action: {p['action']}  "
             f"probes: {', '.join(p['probes'])}  min support: {p['min_support']}", ""]
    head = f"  {'step':>4}  {'probe':<20}{'cost':>7}{'certified':>11}{'ambiguous':>11}{'thin':>9}{'fibers':>10}{'mixed':>9}"
    if held:
        head += f"{'held-out cert.':>16}{'error|cert':>12}"
    lines.append(head)
    prev = None
    for s in m["curve"]:
        mark = " (falls)" if prev is not None and s["certifiable_fraction"] < prev else ""
        line = (f"  {s['step']:>4}  {str(s['probe'] or '(evidence)'):<20}{s['cost']:>7g}{pct(s['certifiable_fraction']):>11}"
                f"{pct(s['ambiguous_fraction']):>11}{pct(s['thin_fraction']):>9}{s['n_fibers']:>10,}{s['n_mixed_fibers']:>9,}")
        if held:
            line += f"{pct(s['holdout_certified_fraction']):>16}{pct(s['holdout_error_among_certified']):>12}"
        lines.append(line + mark)
        prev = s["certifiable_fraction"]
    lines.append("")
    if m["curve_falls_at"]:
        lines.append(f"  the curve falls at step {', '.join(map(str, m['curve_falls_at']))}: with min support "
                     f"{p['min_support']}, finer fibers get too thin to certify")
    if m["curve"] and "by" in m["curve"][0]:
        lines.append(f"  certified by {p['by']} (each slice's own fibers) at each step:")
        vals = [str(r["value"]) for r in m["curve"][0]["by"]][:8]
        lines.append(f"  {'step':>6}  " + "".join(f"{v[:10]:>11}" for v in vals))
        for s in m["curve"]:
            by = {str(r["value"]): r for r in s["by"]}
            lines.append(f"  {s['step']:>6}  " + "".join(f"{pct(by[v]['certifiable_fraction']) if v in by else '-':>11}"
                                                        for v in vals))
        lines.append("")
    lines.append("  " + summary["headline"])
    return "\n".join(lines)


def _policy_lines(policies: dict) -> list[str]:
    """One line per replay policy: means of certified, error among certified (- when no split
    certifies), false decisions and acquisitions, and the p10-p90 of false decisions."""
    lines = []
    for pol, v in policies.items():
        fd = v["false_decisions"]
        err = v["error_among_certified"]
        shown = "-" if err.get("mean") is None else f"{err['mean']:.3%}"
        lines.append(f"  {pol.replace('_', ' '):<22}{v['certified_fraction']['mean']:>10.3%} "
                     f"{shown:>9} {fd['mean']:>11.4%}"
                     f"{v['acquisitions']['mean']:>10.2%}   ({fd['p10']:.4%}-{fd['p90']:.4%})")
    return lines


def render_replay(summary: dict) -> str:
    m, p = summary["metrics"], summary["parameters"]
    what = ", ".join(p["evidence"]) if "evidence" in p else ", ".join(p["models"])
    lines = [f"dcb replay  {what}  action: {p['action']}  {m['splits']} splits, calibration "
             f"{p['calib_fraction']:.0%}, min support {p['min_support']}, seed {p['seed']}", "",
             f"  {'policy':<22}{'certified':>11}{'err|cert':>10}{'false dec.':>12}{'acquired':>10}   (mean; p10-p90 of false dec.)"]
    lines += _policy_lines(m["policies"])
    err = m["policies"]["certify_only"]["error_among_certified"]
    if "n_splits" in err and err["n_splits"] < m["splits"]:
        lines.append(f"  err|cert of the certifying policies: mean over the {err['n_splits']} of {m['splits']} "
                     "splits that certify something")
    lam = m.get("break_even_lambda")
    lines.append("")
    if lam is not None:
        lines.append(f"  break-even acquisition price lambda* = {lam:.4%} of a false decision: cheaper acquisitions "
                     "make certify-then-acquire worth it")
        ls = m.get("break_even_lambda_splits")
        if ls:
            lines.append(f"  (lambda* per split: mean {ls['mean']:.4%}, median {ls['median']:.4%}, "
                         f"p10-p90 {ls['p10']:.4%}-{ls['p90']:.4%}, over {ls['n_splits']} splits)")
    if "model_choice" in m:
        mc = m["model_choice"]
        lines.append(f"  model choice: benchmark ({mc['benchmark_choice']}) and certification pick different models in "
                     f"{mc['differ_fraction']:.0%} of splits")
        for who in ("benchmark", "certification"):
            picks = mc.get(f"{who}_choices")
            if picks:
                lines.append(f"    {who} picks: " + ", ".join(f"{n} {k}" for n, k in picks.items()))
    if m.get("by"):
        lines += ["", f"  per {p['by']} (means over splits; false decisions over that value's test rows)",
                  f"  {'value':<20}{'rows':>12}{'test share':>12}{'certified':>11}{'fd: fiber maj.':>16}"
                  f"{'fd: cert+acq':>14}{'acquired':>10}"]

        def mean(x):
            return "-" if x is None or x.get("mean") is None else pct(x["mean"])

        for r in m["by"][:30]:
            pol = r["policies"]
            lines.append(f"  {str(r['value'])[:19]:<20}{r['n_rows']:>12,}{mean(r['test_share']):>12}"
                         f"{mean(pol['certify_only']['certified_fraction']):>11}"
                         f"{mean(pol['fiber_majority']['false_decisions']):>16}"
                         f"{mean(pol['certify_then_acquire']['false_decisions']):>14}"
                         f"{mean(pol['certify_then_acquire']['acquisitions']):>10}")
        if len(m["by"]) > 30:
            lines.append(f"  ... {len(m['by']) - 30} more values (--format json lists all)")
    lines.append("  " + summary["headline"])
    return "\n".join(lines)


def render_leaderboard_replay(summary: dict) -> str:
    """The text view of a leaderboard replay (``dcb replay --group-by``): the policies pooled over
    every (model, split) run, lambda* per run, one line per model, the model choice."""
    m, p = summary["metrics"], summary["parameters"]
    tol = p["tolerance"]
    tol_s = (f"tolerance = each model's calibration MAE of {tol[4:]}" if isinstance(tol, str)
             else f"tolerance {tol:g}")
    lines = [f"dcb replay  leaderboard  {p['group_by']} x {p['id']}  evidence: {p['evidence'][0]}  action: "
             f"{p['action']}", f"  {m['n_models']} models, {m['n_items']:,} items, {m['n_rows']:,} rows; "
             f"{m['splits']} item splits, calibration {p['calib_fraction']:.0%}, min support {p['min_support']}, "
             f"{tol_s}, seed {p['seed']}", "",
             f"  pooled over {m['runs']} (model, split) runs",
             f"  {'policy':<22}{'certified':>11}{'err|cert':>10}{'false dec.':>12}{'acquired':>10}   (mean; p10-p90 of false dec.)"]
    lines += _policy_lines(m["policies"])
    err = m["policies"]["certify_only"]["error_among_certified"]
    if err["n_splits"] < m["runs"]:
        lines.append(f"  err|cert: mean over the {err['n_splits']} of {m['runs']} runs that certify something")
    ls = m["break_even_lambda_splits"]
    lines.append("")
    if ls["mean"] is not None:
        lines.append(f"  lambda* per run: mean {ls['mean']:.3%}, median {ls['median']:.3%}, p10-p90 "
                     f"{ls['p10']:.3%}-{ls['p90']:.3%} of a false decision (over {ls['n_splits']} runs)")
    lines += ["", f"  {'model':<16}{'cal MAE':>9}{'certified':>11}{'err|cert':>10}{'FD major.':>11}"
                  f"{'FD c+a':>9}{'lambda*':>9}   (means over splits)"]
    for name, pol in m["models"].items():
        mae = m["calibration_mae_models"][name]["mean"]
        e = pol["certify_only"]["error_among_certified"]["mean"]
        lam = m["break_even_lambda_models"][name]["mean"]
        lines.append(f"  {name:<16}{mae:>9.4f}{pol['certify_only']['certified_fraction']['mean']:>10.2%} "
                     f"{'-' if e is None else format(e, '.3%'):>9}"
                     f"{pol['fiber_majority']['false_decisions']['mean']:>10.3%} "
                     f"{pol['certify_then_acquire']['false_decisions']['mean']:>8.3%}"
                     f"{'-' if lam is None else format(lam, '.2%'):>9}")
    if "model_choice" in m:
        mc = m["model_choice"]
        top = lambda d: ", ".join(f"{n} {k}" for n, k in sorted(d.items(), key=lambda x: -x[1]) if k)
        lines += ["", f"  model choice per split: lowest calibration MAE vs certification differ in "
                      f"{mc['differ_fraction']:.0%} of splits",
                  f"    benchmark picks: {top(mc['benchmark_choices'])}",
                  f"    certification picks: {top(mc['certification_choices'])}"]
        fb, fc = mc["benchmark_choice_false_decisions"]["mean"], mc["certification_choice_false_decisions"]["mean"]
        lines.append(f"    false decisions: benchmark's pick acting on its window majority {fb:.3%}; "
                     f"certification's pick with certify then acquire {fc:.3%}")
    lines.append("  " + summary["headline"])
    return "\n".join(lines)


def render_completion_groups(summary: dict) -> str:
    """The text view of ``dcb complete --group-by``: the pooled curve (one probe order for every
    model), then one line per model: its probe order and certified fraction before and after."""
    m = summary["metrics"]
    lines = [render_completion(summary).replace("dcb complete ", f"dcb complete  pooled over {m['group_by']} ", 1), "",
             f"  per {m['group_by']}: {'certified at step 0':>20} {'after all steps':>16}   probe order"]
    for name, g in m["groups"].items():
        c = g["curve"]
        order = ", ".join(s["probe"] for s in c[1:]) or "-"
        lines.append(f"  {name:<16}{pct(c[0]['certifiable_fraction']):>15} {pct(c[-1]['certifiable_fraction']):>16}   "
                     f"{order}")
    return "\n".join(lines)
DIFF_ROWS = [("lost", "lost certification"), ("gained", "gained certification"),
             ("action_changed", "certified action changed"), ("new_key", "new keys (no OLD fiber)"),
             ("gone_key", "gone keys (no NEW fiber)"), ("still_certified", "still certified, same action"),
             ("still_uncertified", "still ambiguous or thin")]


def render_diff(summary: dict) -> str:
    m, p = summary["metrics"], summary["parameters"]
    lines = [
        f"dcb diff  evidence: {', '.join(p['evidence'])}",
        f"  OLD  {p['old']['source']} ({p['old']['kind']}, {m['n_fibers_old']:,} fibers)",
        f"  NEW  {p['new']['source']} ({p['new']['kind']}, {m['n_fibers_new']:,} fibers)",
        "",
        f"  certified     OLD {pct(m['certified_old'])}   NEW {pct(m['certified_new'])}   shift "
        f"{100 * m['certified_shift']:+.2f} points",
        f"  NEW traffic the OLD certificate certifies {pct(m['old_certificate_coverage'])}; "
        f"on keys OLD saw {pct(m['covered_new'])}",
        f"  OLD certified weight still certified with the same action {pct(m['retained_certified'])}",
        "",
        f"  {'change':<30}{'fibers':>9}{'OLD weight':>12}{'NEW weight':>12}",
    ]
    for key, name in DIFF_ROWS:
        c = m["changes"][key]
        lines.append(f"  {name:<30}{c['fibers']:>9,}{pct(c['weight_old']):>12}{pct(c['weight_new']):>12}")
    ev = p["evidence"]
    for key, name in DIFF_ROWS[:5]:
        rows = m["top_changes"].get(key) or []
        if not rows:
            continue
        lines += ["", f"  {name} (heaviest):"]
        for r in rows[:10]:
            k = ", ".join(f"{c}={r.get(c)}" for c in ev)
            old = f"{r['class_old'] or '-'} {_act(r['action_old'])}".strip()
            new = f"{r['class_new'] or '-'} {_act(r['action_new'])}".strip()
            lines.append(f"    {k}: {old} -> {new}, weight {_w(r['weight_old'])} -> {_w(r['weight_new'])}")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)


def _act(a) -> str:
    return f"({a})" if a is not None else ""


def _w(w) -> str:
    return "-" if w is None else f"{w:,.6g}"


def render_explain(summary: dict) -> str:
    m, p = summary["metrics"], summary["parameters"]
    lines = [f"dcb explain  evidence: {', '.join(p['evidence'])}  action: {p['action']}  "
             f"columns tried: {len(p['probes'])}",
             f"  {m['n_mixed_fibers']:,} mixed fibers ({m['mixed_weight_fraction']:.2%} of the weight); the "
             f"{m['n_explained']} heaviest shown ({m['explained_weight_fraction']:.2%} of the mixed weight)"]
    for f in m["fibers"]:
        key = ", ".join(f"{k}={v}" for k, v in f["key"].items())
        acts = ", ".join(f"{a}: {w:,.6g}" for a, w in list(f["actions"].items())[:6])
        lines += ["", f"  #{f['rank']}  {key}   {f['rows']:,} rows, weight {f['weight']:,.6g}   ({acts})"]
        b = f["best"]
        if b is None:
            lines.append("      no column separates it")
            continue
        lines.append(f"      best column {b['column']}: information gain {b['information_gain']:.3f} of "
                     f"{f['entropy']:.3f} bits ({b['gain_fraction']:.0%}), {b['n_values']} values")
        for s in b["split"][:6]:
            acts = ", ".join(f"{a}: {w:,.6g}" for a, w in s["actions"].items())
            lines.append(f"        {b['column']} = {s['value']!s:<16} {s['rows']:>7,} rows   {acts}")
        others = [f"{c['column']} {c['information_gain']:.3f}" for c in f["candidates"][1:4]]
        if others:
            lines.append("      next: " + ", ".join(others))
        ex = "; ".join(f"{a}: {', '.join(map(str, ids))}" for a, ids in f["examples"].items())
        lines.append(f"      examples ({f['examples_by']}): {ex}")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)


def _pct6(x) -> str:
    return "     -" if x is None else f"{100.0 * x:6.2f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _row(label: str, cov, width) -> str:
    return f"  {label[:43]:<44s}{_pct6(cov):>8s}  {'' if width is None else _num(width):>8s}".rstrip()


def render_channels(summary: dict) -> str:
    """The summary of :func:`dcb_fast.methods.channels.check_channels` as a terminal table."""
    p, m = summary["parameters"], summary["metrics"]
    files = summary["input"].get("files") or []
    src = f"{len(files)} file{'s' if len(files) != 1 else ''}" if files else "in-memory table"
    dp = f" (deployment prediction: {p['deploy_pred']})" if p["deploy_pred"] != p["pred"] else ""
    lines = [
        f"dcb channels  prediction: {p['pred']}{dp}  benchmark label: {p['bench_label']}  "
        f"deployment label: {p['deploy_label']}  alpha: {p['alpha']:g}",
        f"  input        {src}, {m['n_rows']:,} rows used, {m['dropped_rows']:,} dropped; "
        f"{m['n_calibration']:,} calibration / {m['n_test']:,} test (seed {p['seed']})",
        "",
        f"  {'interval':<44s}{'coverage':>8s}  {'width':>8s}",
        _row(f"benchmark: calibrated on {p['bench_label']}", m["benchmark_coverage"], m["width_bench"]),
        _row(f"transfer:  same interval on {p['deploy_label']}", m["transfer_coverage"], m["width_bench"]),
        _row(f"oracle:    calibrated on {p['deploy_label']}", m["deployment_coverage"], m["width_deploy"]),
        _row("target", m["target_coverage"], None),
    ]
    if m.get("groups") is not None:
        mo = m["mondrian"]
        lines += [
            "",
            f"  per {p['group_by']} (Mondrian: one interval per group)",
            f"  pooled over groups: benchmark {_pct6(mo['benchmark_coverage']).strip()}, "
            f"transfer {_pct6(mo['transfer_coverage']).strip()}, oracle {_pct6(mo['deployment_coverage']).strip()}",
            f"  {'group':<16s} {'calib':>6s} {'test':>6s}  {'bench':>7s} {'transfer':>8s} {'oracle':>7s}  "
            f"{'width b':>8s} {'width d':>8s}",
        ]
        for g in m["groups"][:50]:
            wb = None if g["q_bench"] is None else 2 * g["q_bench"]
            wd = None if g["q_deploy"] is None else 2 * g["q_deploy"]
            lines.append(
                f"  {str(g['group'])[:16]:<16s} {g['n_calibration']:>6,} {g['n_test']:>6,}  "
                f"{_pct6(g['benchmark_coverage'])} {_pct6(g['transfer_coverage']):>8s} {_pct6(g['deployment_coverage'])}  "
                f"{_num(wb):>8s} {_num(wd):>8s}" + ("  too small" if g["too_small"] else ""))
        if len(m["groups"]) > 50:
            lines.append(f"  ... {len(m['groups']) - 50} more groups (--format json lists all)")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)


def render_acquisition(summary: dict) -> str:
    """The text table of an acquisition replay: per policy and step, the modal probe and the
    held-out certified fraction (mean, p10-p90), false decisions and error among certified."""
    m, p = summary["metrics"], summary["parameters"]
    lines = [f"dcb acquire  evidence: {', '.join(p['evidence'])}  action: {p['action']}  probes: {', '.join(p['probes'])}",
             f"  {m['splits']} splits ({p['split']}, seed {p['seed']}), calibration {m['n_calibration']} of "
             f"{m['n_rows']} rows, min support {p['min_support']}, ties to the lexically {p['tie_break']} probe", "",
             f"  {'policy':<18}{'step':>4}  {'modal probe':<22}{'certified':>10}  {'p10-p90':<17}"
             f"{'false dec.':>10}{'err|cert':>10}"]
    for name, steps in m["policies"].items():
        for s in steps:
            cf, err = s["certified_fraction"], s["error_among_certified"]
            modal = f"{s['modal_probe']} ({s['modal_count']})" if s["step"] else "(evidence)"
            e = f"{err['mean']:.2%}" if err["mean"] is not None else "-"
            lines.append(f"  {name.replace('_', '-') if s['step'] == 0 else '':<18}{s['step']:>4}  {modal:<22}"
                         f"{cf['mean']:>10.2%}  {cf['p10']:.2%}-{cf['p90']:.2%}".ljust(77)
                         + f"{s['false_decisions']['mean']:>10.3%}{e:>10}")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)
