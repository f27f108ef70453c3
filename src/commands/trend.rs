//! `tracebench trend`: read the runs, build the trend, write its files and print the Markdown.

use anyhow::Context;

use crate::cli::TrendArgs;
use crate::compare::{load_summary, run_paths};
use crate::exit::Exit;
use crate::report::charts::{Chart, TrendChart};
use crate::report::{escape, inline_svg, write_atomic};
use crate::trend::{export, trend};

pub async fn run(args: TrendArgs) -> anyhow::Result<Exit> {
    let paths = run_paths(&args.runs)?;
    let runs = paths
        .into_iter()
        .map(|p| Ok((p.clone(), load_summary(&p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let trend = trend(runs, &args.labels);
    let out = &args.out;
    std::fs::create_dir_all(out.join("charts"))
        .with_context(|| format!("creating {}", out.display()))?;
    let labels: Vec<String> = trend.runs.iter().map(|r| r.label.clone()).collect();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>tracebench \
         trend</title></head>\n<body>\n<h1>tracebench trend: {} runs</h1>\n",
        trend.runs.len()
    );
    for series in &trend.series {
        let chart = Chart::Trend(TrendChart::new(series, &labels));
        let svg = chart.svg()?;
        write_atomic(
            &out.join(format!("charts/{}.svg", chart.stem())),
            svg.as_bytes(),
        )?;
        write_atomic(
            &out.join(format!("charts/{}.png", chart.stem())),
            &chart.png()?,
        )?;
        html.push_str(&format!("<h2>{}</h2>\n", escape(&series.name())));
        let changes: Vec<&str> = series
            .changes
            .iter()
            .map(|&i| trend.runs[i].label.as_str())
            .collect();
        if !changes.is_empty() {
            html.push_str(&format!(
                "<p>Change point before: {}</p>\n",
                escape(&changes.join(", "))
            ));
        }
        html.push_str(&inline_svg(&svg));
        html.push('\n');
    }
    html.push_str("</body>\n</html>\n");
    let markdown = export::markdown(&trend);
    write_atomic(&out.join("trend.md"), markdown.as_bytes())?;
    write_atomic(&out.join("trend.html"), html.as_bytes())?;
    let bmf = serde_json::to_vec_pretty(&export::bmf(&trend))?;
    write_atomic(&out.join("bmf.json"), &bmf)?;
    write_atomic(&out.join("otava.csv"), &export::otava_csv(&trend)?)?;
    write_atomic(
        &out.join("otava.yaml"),
        export::otava_yaml(&trend).as_bytes(),
    )?;
    print!("{markdown}");
    eprintln!("trend: {}", out.display());
    Ok(Exit::Pass)
}
