"""The study's ``report.md`` (tables, paired statistics, figures) and ``summary.csv``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..atomic_files import atomic_write_text, read_csv, write_csv
from ..brats import REGION_NAMES as REGIONS
from ..errors import BratsError
from ..evaluation.html import study_html
from ..metrics.regions import summarise
from ..plots import pyplot, save_figure
from ..runs.folder import read_metrics, read_run_config, read_run_info
from .spec import Study, Variant, run_dir, stored_split
from .stats import bootstrap_ci, compare, holm, leaders

METRICS = (("dice", "max"), ("hd95", "min"))
# the leads a study is planned for: how many paired cases would resolve them at the spread this study found
PLAN_LEAD = {"dice": 0.03, "hd95": 2.0}


Scores = dict[tuple[str, str], dict[str, float]]  # {(region, metric): {case: value}}


def seed_cases(study: Study, out: Path, variant: Variant, seed: int) -> Scores:
    """One seed's per-case scores from its per_case.csv, pooled over the folds of a cross-validation (a case
    scored by two folds is an error: each is tested exactly once)."""
    acc: Scores = {}
    tested_by: dict[str, int | None] = {}
    for fold in study.fold_ids:
        for row in read_csv(run_dir(out, variant, seed, fold) / "eval" / "per_case.csv"):
            if tested_by.setdefault(row["case"], fold) != fold:
                raise BratsError(f"{out}: case {row['case']} was tested in folds {tested_by[row['case']]} and "
                                 f"{fold} of variant {variant.name}; the folds overlap")
            for metric, _ in METRICS:
                acc.setdefault((row["region"], metric), {})[row["case"]] = float(row[metric])
    return acc


def average(runs: list[Scores]) -> Scores:
    """{(region, metric): {case: value averaged over the runs (seeds)}}."""
    acc: dict[tuple[str, str], dict[str, list[float]]] = {}
    for run in runs:
        for key, values in run.items():
            for case, value in values.items():
                acc.setdefault(key, {}).setdefault(case, []).append(value)
    return {k: {c: float(np.nanmean(v)) for c, v in d.items()} for k, d in acc.items()}


def seed_means(runs: list[Scores]) -> dict[tuple[str, str], list[float]]:
    """{(region, metric): [mean over the pooled test cases of each run (seed)]}, in the runs' order."""
    means: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for key, values in run.items():
            means.setdefault(key, []).append(float(np.nanmean(list(values.values()))))
    return means


def spread(means: list[float]) -> float:
    """Largest minus smallest of the seeds' means: how far runs of one variant land apart when only the seed
    changes (NaN with one seed, where it is not measured)."""
    finite = [m for m in means if not math.isnan(m)]
    return max(finite) - min(finite) if len(finite) >= 2 else math.nan


def pooled_test_metrics(study: Study, out: Path, variant: Variant) -> dict[str, float]:
    """The paper's metrics on the test split, averaged over seeds (and folds)."""
    rows = [r for f in study.fold_ids for s in study.seeds
            for r in read_csv(run_dir(out, variant, s, f) / "eval" / "table1.csv") if r["split"] == "Test"]
    return {k: float(np.mean([float(r[k]) for r in rows])) for k in ("loss", "accuracy", "mean_iou", "dice")}


Cases = dict[str, Scores]  # {variant: its seeds' scores averaged per case, pooled over folds}


def summary_rows(study: Study, out: Path, runs: dict[str, list[Scores]], cases: Cases) -> list[dict]:
    """One row per variant: paper metrics, region Dice/HD95 mean and sd, each seed's mean and their spread, and
    paired tests vs the baseline. ``runs``: {variant: [seed_cases of each seed]}; ``cases``: their averages."""
    base = cases[study.baseline]
    rows = []
    for v in study.variants:
        test = {f"test_{k}": x for k, x in pooled_test_metrics(study, out, v).items()}
        row = {"variant": v.name, "seeds": len(study.seeds), **test}
        by_seed = seed_means(runs[v.name])
        for region in REGIONS:
            for metric, _ in METRICS:
                values = cases[v.name][(region, metric)]
                s = summarise(values.values())
                row[f"{region}_{metric}_mean"], row[f"{region}_{metric}_sd"] = s["mean"], s["sd"]
                means = by_seed[(region, metric)]
                row.update({f"{region}_{metric}_seed{seed}": m for seed, m in zip(study.seeds, means)})
                row[f"{region}_{metric}_seed_spread"] = spread(means)
                if v.name != study.baseline:
                    c = compare(values, base[(region, metric)], PLAN_LEAD[metric])
                    row.update({f"{region}_{metric}_diff": c["mean_diff"], f"{region}_{metric}_ci_low": c["ci_low"],
                                f"{region}_{metric}_ci_high": c["ci_high"], f"{region}_{metric}_p": c["p"],
                                f"{region}_{metric}_resolvable": c["resolvable"],
                                f"{region}_{metric}_cases_needed": c["cases_needed"]})
                    row["n_cases"], row["min_p"] = c["n"], c["min_p"]
        rows.append(row)
    _add_holm(rows, study.baseline)
    return rows


def _add_holm(rows: list[dict], baseline: str) -> None:
    """``*_p_holm``: each p against the baseline, Holm-adjusted over the variants compared with it (per region
    and metric), so that a study of many variants does not read one chance p < .05 as a lead."""
    others = [row for row in rows if row["variant"] != baseline]
    for region in REGIONS:
        for metric, _ in METRICS:
            key = f"{region}_{metric}_p"
            adjusted = holm({row["variant"]: row[key] for row in others})
            for row in others:
                row[f"{key}_holm"] = adjusted[row["variant"]]


def _f(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _n(x: int | None) -> str:
    """A cases-needed cell (None below 2 paired cases)."""
    return "n/a" if x is None else f"{x} cases for ±{PLAN_LEAD['dice']:g}"


def _results_table(rows: list[dict], baseline: str) -> list[str]:
    head = "| variant | test acc. (paper) | mean IoU (paper) | Dice 4-class (paper) | " + \
        " | ".join(f"{r} Dice | {r} HD95" for r in REGIONS) + " |"
    lines = [head, "|---" * (4 + 2 * len(REGIONS)) + "|"]
    for row in rows:
        cells = [f"{_f(row[f'{r}_{m}_mean'])} ± {_f(row[f'{r}_{m}_sd'])}" for r in REGIONS for m, _ in METRICS]
        name = f"**{row['variant']}** (baseline)" if row["variant"] == baseline else row["variant"]
        lines.append(f"| {name} | {100 * row['test_accuracy']:.2f} % | {100 * row['test_mean_iou']:.2f} % | "
                     f"{100 * row['test_dice']:.2f} % | " + " | ".join(cells) + " |")
    return lines


def within_spread(row: dict, base: dict, key: str) -> bool:
    """True when a variant's mean difference from the baseline (``key``, e.g. ``WT_dice``) is smaller than the
    seed-to-seed spread of either: a lead that two runs of one variant could show with nothing changed."""
    spreads = [r[f"{key}_seed_spread"] for r in (row, base) if not math.isnan(r[f"{key}_seed_spread"])]
    return bool(spreads) and abs(row[f"{key}_diff"]) < max(spreads)


def _comparison_table(rows: list[dict], baseline: str) -> list[str]:
    lines = [f"| variant vs {baseline} | " + " | ".join(f"Δ {r} Dice [95 % CI], p" for r in REGIONS) + " |",
             "|---" * (1 + len(REGIONS)) + "|"]
    base = next(row for row in rows if row["variant"] == baseline)
    for row in rows:
        if row["variant"] == baseline:
            continue
        cells = [f"{_f(row[f'{r}_dice_diff'], 3)}{' †' if within_spread(row, base, f'{r}_dice') else ''} "
                 f"[{_f(row[f'{r}_dice_ci_low'])}, {_f(row[f'{r}_dice_ci_high'])}], "
                 f"p = {_f(row[f'{r}_dice_p'], 3)} (Holm {_f(row[f'{r}_dice_p_holm'], 3)})" for r in REGIONS]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return lines


def _resolution_table(rows: list[dict], baseline: str) -> list[str]:
    lines = [f"| variant vs {baseline} | " + " | ".join(f"{r} Dice" for r in REGIONS) + " |",
             "|---" * (1 + len(REGIONS)) + "|"]
    lines += [f"| {row['variant']} | " + " | ".join(f"±{_f(row[f'{r}_dice_resolvable'])} "
                                                 f"({_n(row[f'{r}_dice_cases_needed'])})" for r in REGIONS) + " |"
              for row in rows if row["variant"] != baseline]
    return lines


def _spread_section(rows: list[dict], seeds: tuple[int, ...]) -> list[str]:
    """Each seed's mean Dice per variant and their spread, or why the spread is not measured."""
    if len(seeds) < 2:
        return [f"One seed per variant (`seeds: {list(seeds)}`): how far two runs of one variant land apart with "
                "nothing changed but the seed is not measured here, and a single-run difference between variants "
                "can be that spread alone. `seeds: [0, 1, 2]` measures it (the tables above then average the "
                "seeds per case)."]
    dagger = (" A difference from the baseline smaller than the spread of either is marked † above: two runs of one "
              "variant could show it." if len(rows) > 1 else "")
    lines = ["Each seed's mean Dice over the test cases, and the spread (largest − smallest): how far runs of one "
             f"variant land apart when only the seed changes.{dagger} (summary.csv: `*_seed<k>`, `*_seed_spread`, "
             "also for HD95.)", "",
             "| variant | " + " | ".join(f"{r} Dice by seed | {r} spread" for r in REGIONS) + " |",
             "|---" * (1 + 2 * len(REGIONS)) + "|"]
    for row in rows:
        cells = [" / ".join(_f(row[f"{r}_dice_seed{s}"]) for s in seeds) + f" | {_f(row[f'{r}_dice_seed_spread'])}"
                 for r in REGIONS]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return lines


def _best(rows: list[dict], cases: Cases) -> list[str]:
    """The best mean per region and metric, with the variants the paired cases cannot tell from it."""
    lines = []
    for region in REGIONS:
        for metric, direction in METRICS:
            picked = leaders({r["variant"]: cases[r["variant"]][(region, metric)] for r in rows},
                             higher_is_better=direction == "max")
            if picked is None:
                continue
            best, level = picked
            mean = next(r for r in rows if r["variant"] == best)[f"{region}_{metric}_mean"]
            tail = f"; level with it (Holm p ≥ .05): {', '.join(level)}" if level else "; ahead of every other variant"
            lines.append(f"- {region} {metric}: **{best}** ({_f(mean)}){tail}")
    return lines


def dice_bars(study: Study, out: Path, cases: Cases) -> Path:
    """Grouped bars: mean region Dice per variant with a bootstrap 95 % CI over test cases."""
    plt = pyplot()
    names = [v.name for v in study.variants]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names) + 2), 3.8))
    width = 0.8 / len(REGIONS)
    for i, region in enumerate(REGIONS):
        means: list[float] = []
        errs: list[list[float]] = [[], []]
        for v in study.variants:
            vals = np.array(list(cases[v.name][(region, "dice")].values()))
            lo, hi = bootstrap_ci(vals)
            m = float(np.nanmean(vals))
            means.append(m)
            errs[0].append(max(0.0, m - lo))
            errs[1].append(max(0.0, hi - m))
        ax.bar(np.arange(len(names)) + i * width, means, width, yerr=errs, capsize=3, label=region)
    ax.set_xticks(np.arange(len(names)) + width)
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("Dice (test cases" + (", pooled over folds)" if study.folds else ")"))
    ax.set_ylim(0, 1)
    ax.legend(ncol=3)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, out / "dice_bars.png")


def val_curves(study: Study, out: Path) -> Path:
    """Validation loss and mean region Dice per epoch, variants overlaid (first seed)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for v in study.variants:
        hist = read_metrics(run_dir(out, v, study.seeds[0], study.fold_ids[0]))
        epochs = [r["epoch"] for r in hist]
        axes[0].plot(epochs, [r["val_loss"] for r in hist], label=v.name)
        axes[1].plot(epochs, [r["val_dice_mean"] for r in hist], label=v.name)
    for ax, title in zip(axes, ("validation loss", "validation Dice (mean of WT/TC/ET)")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    if study.folds:
        fig.suptitle("fold 0", fontsize=9)
    return save_figure(fig, out / "val_curves.png")


def runs_of(study: Study, out: Path) -> list[Path]:
    """Every run folder of the study."""
    return [run_dir(out, v, s, f) for f in study.fold_ids for v in study.variants for s in study.seeds]


def design(study: Study, out: Path) -> str:
    """One sentence on how cases were split: one split, or K folds pooled."""
    if not study.folds:
        split = stored_split(out, study)
        return (f"split train/val/test = {len(split['train'])}/{len(split['val'])}/{len(split['test'])} cases "
                "(the same for every variant)")
    splits = [stored_split(out, study, f) for f in study.fold_ids]
    n = sum(len(s["test"]) for s in splits)
    sizes = ", ".join(f"{len(s['train'])}/{len(s['val'])}/{len(s['test'])}" for s in splits)
    return (f"{study.folds}-fold patient-level cross-validation over {n} cases (`splits_final.json`), every case "
            f"tested exactly once and the report pooled over folds; train/val/test per fold {sizes}")


def budget_line(study: Study, out: Path) -> str:
    """Steps, samples seen and minutes per run, and the machines that trained them (from each run folder)."""
    lines = []
    for v in study.variants:
        d = run_dir(out, v, study.seeds[0], study.fold_ids[0])
        cfg, hist = read_run_config(d), read_metrics(d)
        per_epoch, batch = cfg.train.steps_per_epoch, cfg.train.batch_size
        steps = f"{len(hist) * per_epoch} steps of {batch} ({len(hist) * per_epoch * batch} samples)" if per_epoch \
            else f"{len(hist)} epochs of batch {batch}"
        minutes = sum(r["seconds"] for r in hist) / 60
        lines.append(f"- `{v.name}`: {steps}, {minutes:.1f} min (fold-0 run, seed {study.seeds[0]})")
    machines = sorted({read_run_info(d).get("machine", "not recorded") for d in runs_of(study, out)})
    return "\n".join(lines + [f"- trained on: {'; '.join(machines)}"])


def _comparison_sections(study: Study, rows: list[dict]) -> list[str]:
    """The paired comparison and resolution tables; with one variant there is nothing to pair, so one line says so
    (a one-variant study measures that variant, and with several seeds its run-to-run spread)."""
    if len(rows) < 2:
        return [f"One variant (`{study.baseline}`): nothing to compare it with, so no paired statistics. Add variants "
                "to the study file to compare them with it on these cases.", ""]
    n, min_p = rows[-1].get("n_cases", 0), rows[-1].get("min_p", 1.0)
    note = (f"**Too few cases for a test to mean anything:** with {n} paired test cases the smallest p-value "
            f"the exact Wilcoxon test can give is {min_p:.3f}, so no difference can reach p < 0.05."
            if min_p > 0.05 else f"{n} paired test cases (smallest attainable p = {min_p:.3f}).")
    return [
        f"## Paired comparison with the baseline `{study.baseline}`", "",
        "Per-case differences (variant − baseline), mean with a bootstrap 95 % CI (10,000 resamples of cases) and the "
        "two-sided Wilcoxon signed-rank p-value; in brackets that p Holm-adjusted over the variants compared with the "
        "baseline (Holm 1979), the one to read when several variants are screened at once; † marks a difference "
        "smaller than the run-to-run spread of the seeds (below).", "", note, "",
        *_comparison_table(rows, study.baseline), "",
        "The smallest lead these paired cases resolve (80 % power, two-sided α = .05, from the sd of the per-case "
        "differences): a smaller difference is within the noise of this many cases. In brackets, the paired cases a "
        f"lead of {PLAN_LEAD['dice']:g} Dice would need at this spread (summary.csv: `*_cases_needed`, also for "
        f"{PLAN_LEAD['hd95']:g} mm of HD95): the figure to plan the next study by.", "",
        *_resolution_table(rows, study.baseline), ""]


def _best_section(rows: list[dict], cases: Cases) -> list[str]:
    """The section naming the best variant per region and metric; none for one variant (nothing to rank)."""
    if len(rows) < 2:
        return []
    return ["## Best variant per metric", "",
            "The highest mean (lowest for HD95), and the variants whose paired per-case differences from it are not "
            "significant (two-sided Wilcoxon p, Holm-adjusted over the other variants, ≥ .05): those are level with "
            "it on these cases.", "", *_best(rows, cases), ""]


def write_report(study: Study, out: Path, data: str | Path) -> list[dict]:
    """Write ``summary.csv`` and ``report.md`` (with the two figures); return the summary rows."""
    runs = {v.name: [seed_cases(study, out, v, seed) for seed in study.seeds] for v in study.variants}
    cases = {name: average(seed_runs) for name, seed_runs in runs.items()}
    rows = summary_rows(study, out, runs, cases)
    write_csv(rows, out / "summary.csv", list(dict.fromkeys(k for r in rows for k in r)))
    dice_bars(study, out, cases)
    val_curves(study, out)
    split = design(study, out)
    text = "\n".join([
        f"# Study: {study.name}", "",
        f"Data: `{data}`; {split}; seeds {list(study.seeds)}; budget "
        f"{study.budget or 'from the base config'}; evaluated on the {study.split} split with the "
        f"`{study.checkpoint}` checkpoint at the original geometry.", "", "Training per run:", "",
        budget_line(study, out), "",
        "## Results (test cases, mean ± sd over cases)", "", *_results_table(rows, study.baseline), "",
        "Paper metrics are pooled over all pixels and include background (not BraTS region Dice).", "",
        *_comparison_sections(study, rows),
        "## Run-to-run spread", "", *_spread_section(rows, study.seeds), "",
        *_best_section(rows, cases),
        "## Figures", "", "![Region Dice per variant](dice_bars.png)", "", "![Validation curves](val_curves.png)", ""])
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.html", _html(study, rows, split, out))
    return rows


def _html(study: Study, rows: list[dict], split: str, out: Path) -> str:
    """report.md's tables as a sortable page with the figures inline."""
    metric_cols = [f"{r}_{m}_mean" for r in REGIONS for m, _ in METRICS]
    if len(study.seeds) > 1:  # the run-to-run spread beside the means, as report.md gives it
        metric_cols += [f"{r}_dice_seed_spread" for r in REGIONS]
    results = (["variant", "test accuracy", "test mean IoU", "test Dice 4-class",
                *[c.replace("_mean", "").replace("_", " ") for c in metric_cols]],
               [[r["variant"], r["test_accuracy"], r["test_mean_iou"], r["test_dice"], *[r[c] for c in metric_cols]]
                for r in rows])
    diffs = [f"{r}_dice_{k}" for r in REGIONS for k in ("diff", "p", "p_holm")]
    comparison = (["variant", *[c.replace("_", " ") for c in diffs]],
                  [[r["variant"], *[r.get(c, "") for c in diffs]] for r in rows if r["variant"] != study.baseline])
    intro = (f"Study {study.name}: {split}; seeds {list(study.seeds)}, baseline {study.baseline}; p: two-sided "
             "Wilcoxon signed-rank; p holm: Holm-adjusted over the variants.")
    figures = {"Region Dice per variant": out / "dice_bars.png", "Validation curves": out / "val_curves.png"}
    return study_html(f"brats-unet study {study.name}", intro, results, comparison, figures)
