//! A comparison as Markdown: a verdict line, then one table row per figure.

use std::fmt::Write as _;

use super::*;

impl Comparison {
    /// Rows that decide the exit code and lie beyond their threshold.
    pub fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.regression).count()
    }

    /// The comparison as Markdown: a verdict line, then one table row per figure.
    pub fn to_markdown(&self, baselines: &[String], candidate: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## tracebench compare\n");
        let quoted: Vec<String> = baselines.iter().map(|b| format!("`{b}`")).collect();
        let _ = writeln!(
            md,
            "Baseline {}, candidate `{candidate}`.\n",
            quoted.join(", ")
        );
        if self.baseline_runs >= BETWEEN_RUNS_FROM {
            let _ = writeln!(
                md,
                "{} baseline runs: each figure's variation between runs is estimated from them \
                 and widens its interval (sd between runs in the threshold column).\n",
                self.baseline_runs
            );
        } else {
            let _ = writeln!(
                md,
                "{} baseline run(s): the variation between runs is unknown (it takes \
                 {BETWEEN_RUNS_FROM}), so the intervals hold each run's rounds only and the \
                 thresholds are the only allowance for a slower or busier day. Give \
                 {BETWEEN_RUNS_FROM} or more baseline runs, or compare two builds in one run.\n",
                self.baseline_runs
            );
        }
        let regressions: Vec<&Row> = self.rows.iter().filter(|r| r.regression).collect();
        if regressions.is_empty() {
            let _ = writeln!(md, "**No regression** in {} figures.\n", self.rows.len());
        } else {
            let names: Vec<String> = regressions
                .iter()
                .map(|r| format!("{} at {} rps: {}", r.mode, round(r.rate), r.label()))
                .collect();
            let _ = writeln!(
                md,
                "**{} regression(s)**: {}.\n",
                regressions.len(),
                names.join("; ")
            );
        }
        md.push_str("| mode | rate (rps) | figure | baseline [95% CI] | candidate [95% CI] | change [95% CI] | threshold | result |\n");
        md.push_str("| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |\n");
        for r in &self.rows {
            let change = r.change.value;
            // A relative change of an overhead near zero says nothing.
            let relative = if r.baseline.value != 0.0 && !r.figure.is_overhead() {
                format!(" ({:+.1}%)", change / r.baseline.value.abs() * 100.0)
            } else {
                String::new()
            };
            let change_interval = if r.change.se.is_some() {
                format!(" [{:+}, {:+}]", round(r.change.low), round(r.change.high))
            } else {
                String::new()
            };
            let result = match (r.regression, r.beyond) {
                (true, _) => "**regression**",
                (false, true) => "beyond, not gated (absolute figure)",
                (false, false) => "ok",
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:+}{change_interval}{relative} | {} | {result} |",
                r.mode,
                round(r.rate),
                r.label(),
                interval(r.baseline),
                interval(r.candidate),
                round(change),
                threshold(r),
            );
        }
        for u in &self.unmatched {
            let _ = writeln!(md, "\nNot compared: {u}.");
        }
        if !self.differences.is_empty() {
            let _ = writeln!(
                md,
                "\nThe runs' machines or programs differ (absolute figures carry it):\n"
            );
            for d in &self.differences {
                let _ = writeln!(md, "- {d}");
            }
        }
        md.push_str(
            "\nA figure is beyond its threshold when the 95% interval of its change (Welch, from \
             the variation between rounds of both runs) lies entirely beyond the threshold; an \
             error rate, which has no standard error, when the candidate's interval lies beyond \
             the baseline's widened by it; a figure without an interval (one round) never is. \
             Overheads (mode minus baseline mode in the same run) and the error rate decide the \
             result; absolute latency, throughput, CPU and memory also carry the drift of the \
             machine between the runs, so they decide it only with --gate-absolute. With several \
             baseline runs the baseline is their weighted mean and the change counts the \
             variation between runs twice: in that mean and in the candidate, one more run.\n",
        );
        md
    }
}

/// A row's threshold, and the standard deviation between runs when it was estimated.
fn threshold(r: &Row) -> String {
    let limit = r.limit.describe(r.figure.unit());
    match r.between_runs_sd {
        Some(sd) => format!("{limit} (sd between runs {})", round(sd)),
        None => limit,
    }
}
