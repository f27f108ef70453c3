//! The verdicts section (worst first, each with its interval and why) and the A/A noise floor.

use super::*;

pub(super) fn decimals(kind: &BudgetKind) -> usize {
    match kind {
        BudgetKind::Latency { .. } | BudgetKind::TraceVolume { .. } => 3,
        BudgetKind::Cpu { .. }
        | BudgetKind::Memory { .. }
        | BudgetKind::Errors
        | BudgetKind::Completeness { .. } => 2,
    }
}

pub(super) fn verdict_cell(v: Verdict) -> String {
    match v {
        Verdict::Pass => "pass".to_string(),
        Verdict::Inconclusive => "inconclusive".to_string(),
        Verdict::Fail => "FAIL".to_string(),
    }
}

/// What the verdict rests on besides the interval: the note, the expected memory range, the
/// trace counts.
fn budget_note(b: &BudgetResult, summary: &Summary) -> String {
    let mut notes = Vec::new();
    if let Some(inside) = b.in_expected_range {
        let range = summary.results.budgets.memory_expected_mb;
        let text = range.map_or(String::new(), |(lo, hi)| format!(" {lo}-{hi} MB"));
        // Say which side: below the expected range is good news, above it is a warning sign.
        let below = matches!((range, b.overhead), (Some((lo, _)), Some(e)) if e.value < lo);
        notes.push(match (inside, below) {
            (true, _) => format!("within the expected range{text}"),
            (false, true) => format!("below the expected range{text}"),
            (false, false) => format!("above the expected range{text}"),
        });
    }
    if let Some(c) = b.carry_over {
        notes.push(format!(
            "carry-over onto the next cell {} {}",
            fmt_estimate(&c, decimals(&b.budget)),
            b.budget.unit()
        ));
    }
    // A trace check's counts are already in the overhead and limit columns.
    if let (Some(note), None) = (&b.note, &b.traces) {
        notes.push(note.clone());
    }
    notes.join("; ")
}

pub(super) fn verdicts(summary: &Summary) -> Section {
    let a = &summary.analysis;
    let mut s = Section::new(Topic::Verdicts, "Verdicts");
    let count = |v: Verdict| a.budgets.iter().filter(|b| b.verdict == v).count();
    s.paragraphs.push(format!(
        "Outcome: {} ({} fail, {} inconclusive, {} pass; failures first). Each overhead is the \
         mode minus the baseline ({}) at the same rate, estimated with the cells before it as a \
         carry-over term. The run looked at its verdicts after its first rounds and after every \
         further square of the order: a budget passes at the first look whose interval lies \
         within the limit and fails at the first whose interval lies beyond it, with intervals \
         widened for the looks taken, so the error at the limit stays 2.5% each side. \
         \"decided\" names that look; an undecided budget says how close to its limit it is \
         and about how many more rounds would decide it. The smallest distance from the limit \
         a budget could tell is its \"resolution\". A mode with a cell whose requests plainly \
         fail fails the errors budget at once.",
        a.outcome.as_str(),
        count(Verdict::Fail),
        count(Verdict::Inconclusive),
        count(Verdict::Pass),
        summary.results.baseline,
    ));
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "mode",
            "rate (req/s)",
            "budget",
            "overhead [interval]",
            "limit",
            "verdict",
            "decided",
            "note",
        ]),
        rows: worst_first(&a.budgets)
            .into_iter()
            .map(|b| {
                let unit = b.budget.unit();
                // Trace volume is judged on counts (observed against the accepted range of
                // requests x ratio), which read plainer than a ratio and exist when 0 are expected.
                let (overhead, limit) = match (&b.budget, &b.traces) {
                    (BudgetKind::TraceVolume { .. }, Some(t)) => (
                        format!("{} traces, {:.0} expected", t.observed, t.expected),
                        format!("{:.0} to {:.0} traces", t.accept_low, t.accept_high),
                    ),
                    (BudgetKind::TraceVolume { .. }, None) => {
                        ("not counted".to_string(), format!("1 ± {}", b.limit))
                    }
                    _ => (
                        b.overhead.map_or("not measured".to_string(), |e| {
                            format!("{} {unit}", fmt_estimate(&e, decimals(&b.budget)))
                        }),
                        format!("{} {unit}", b.limit),
                    ),
                };
                vec![
                    b.mode.clone(),
                    fmt_rate(b.rate),
                    b.budget.label(),
                    overhead,
                    limit,
                    verdict_cell(b.verdict),
                    decided_cell(b),
                    budget_note(b, summary),
                ]
            })
            .collect(),
    });
    s.items = a.warnings.iter().map(|w| format!("Warning: {w}")).collect();
    s
}

/// When the budget was decided, and the run's resolution there: `round 8 (±0.21 pp)`, or
/// `not at 32 (±0.30 pp)`; trace budgets are judged once, on counts.
fn decided_cell(b: &BudgetResult) -> String {
    let Some(d) = b.decision else {
        return "-".to_string();
    };
    let resolution = format!(
        "±{:.*} {}",
        decimals(&b.budget),
        d.resolution,
        b.budget.unit()
    );
    if d.decided {
        format!("round {} ({resolution})", d.rounds)
    } else {
        format!("not at {} ({resolution})", d.rounds)
    }
}

/// The budgets with failures first, then inconclusive, then passes; otherwise in the
/// analysis's order, so a reader of a long table sees the problems at its top.
fn worst_first(budgets: &[BudgetResult]) -> Vec<&BudgetResult> {
    let mut sorted: Vec<&BudgetResult> = budgets.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.verdict));
    sorted
}

pub(super) fn noise_floor(summary: &Summary) -> Section {
    let a = &summary.analysis;
    let mut s = Section::new(Topic::NoiseFloor, "Noise floor (baseline against itself)");
    s.paragraphs.push(a.methods.noise_floor.clone());
    s.paragraphs.push(
        "Where the A/A interval excludes 0 the baseline's own restarts differ: the machine or \
         the method is not steady, and a mode passes that budget there only if its interval stays \
         within the limit with the A/A's farthest bound added."
            .to_string(),
    );
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "rate (req/s)",
            "budget",
            "A/A difference [99% CI]",
            "verdict",
            "split",
        ]),
        rows: a
            .noise_floor
            .iter()
            .map(|n| {
                vec![
                    fmt_rate(n.rate),
                    // With variants, one A/A per variant's baseline.
                    if summary.results.variants.is_empty() {
                        n.budget.label()
                    } else {
                        format!("{} {}", n.mode, n.budget.label())
                    },
                    format!(
                        "{} {}",
                        fmt_estimate(&n.estimate, decimals(&n.budget)),
                        n.budget.unit()
                    ),
                    verdict_cell(n.verdict),
                    n.split.clone(),
                ]
            })
            .collect(),
    });
    s
}
