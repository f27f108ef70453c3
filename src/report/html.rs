//! `report.html`: one self-contained file for release reviews. Charts are inline SVG and the
//! CSS is in the page, so it opens anywhere, offline, attached to a ticket, with no external
//! reference at all (not even the SVG namespace URL, which HTML does not need).

use anyhow::Result;

use super::charts::Chart;
use super::sections::{Table, Topic, sections, title};
use super::{Exporter, Summary};

/// The page, with the run's charts (built once by the caller) inlined in their sections.
pub struct Html {
    pub charts: Vec<Chart>,
}

const CSS: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 2em; }
nav a { margin-right: 1em; }
div.table { overflow-x: auto; margin: .5em 0 1em; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
td.pass { color: #00753a; font-weight: bold; }
td.inconclusive { color: #a86a00; font-weight: bold; }
td.fail { color: #c81e1e; font-weight: bold; }
figure { margin: 1em 0 2em; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: .85em; }
p.lead { font-size: 1.05em; margin: .4em 0; }
nav { line-height: 1.9; }
@media (max-width: 600px) { body { margin: 1em auto; } table { font-size: .8em; } }
";

impl Exporter for Html {
    fn file_name(&self) -> String {
        "report.html".to_string()
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        let sections = sections(summary);
        let title = escape(&title(summary));
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<nav>"
        );
        for (i, section) in sections.iter().enumerate() {
            out.push_str(&format!("<a href=\"#s{i}\">{}</a>", escape(&section.title)));
        }
        out.push_str("</nav>\n");
        for (i, section) in sections.iter().enumerate() {
            out.push_str(&format!(
                "<section id=\"s{i}\">\n<h2>{}</h2>\n",
                escape(&section.title)
            ));
            for p in &section.lead {
                out.push_str(&format!("<p class=\"lead\">{}</p>\n", escape(p)));
            }
            if let Some(table) = &section.table {
                out.push_str(&table_html(table));
            }
            for p in &section.paragraphs {
                out.push_str(&format!("<p>{}</p>\n", escape(p)));
            }
            if !section.items.is_empty() {
                out.push_str("<ul>\n");
                for item in &section.items {
                    out.push_str(&format!("<li>{}</li>\n", escape(item)));
                }
                out.push_str("</ul>\n");
            }
            for chart in self.charts.iter().filter(|c| topic(c) == section.topic) {
                out.push_str(&format!(
                    "<figure>\n{}\n<figcaption>{} (also charts/{}.png and .svg)</figcaption>\n</figure>\n",
                    inline_svg(&chart.svg()?),
                    escape(&chart.title()),
                    chart.stem()
                ));
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body>\n</html>\n");
        Ok(out.into_bytes())
    }
}

/// The section a chart illustrates.
fn topic(chart: &Chart) -> Topic {
    match chart {
        Chart::Overhead(_) | Chart::Trend(_) => Topic::Verdicts,
        Chart::Spectrum(_) | Chart::LatencyRate(_) => Topic::Latency,
        Chart::Resources(_) => Topic::Resources,
        Chart::Traces(_) => Topic::Traces,
        Chart::Breakdown(_) => Topic::Slowest,
    }
}

/// An SVG document made fit for inlining: HTML puts `<svg>` in the SVG namespace itself.
pub(crate) fn inline_svg(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// A table in a box of its own that scrolls sideways on a narrow screen, so the page does not.
/// A cell whose first word is a verdict (`pass`, `inconclusive`, `FAIL`) takes its colour.
fn table_html(table: &Table) -> String {
    let mut out = String::from("<div class=\"table\"><table>\n<tr>");
    for h in &table.header {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for (i, row) in table.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (j, cell) in row.iter().enumerate() {
            let first = cell.split_whitespace().next().unwrap_or_default();
            let class = match first.to_lowercase().as_str() {
                verdict @ ("pass" | "inconclusive" | "fail") => format!(" class=\"{verdict}\""),
                _ => String::new(),
            };
            let text = match table.link(i, j) {
                Some(url) => format!("<a href=\"{}\">{}</a>", escape(url), escape(cell)),
                None => escape(cell),
            };
            out.push_str(&format!("<td{class}>{text}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
    out
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_svg_loses_only_its_namespace_url() {
        let svg = "<svg width=\"10\" height=\"10\" xmlns=\"http://www.w3.org/2000/svg\"><g/></svg>";
        assert_eq!(
            inline_svg(svg),
            "<svg width=\"10\" height=\"10\"><g/></svg>"
        );
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    #[test]
    fn cells_link_and_take_their_verdict_colour() {
        let t = Table {
            header: vec!["budget".into(), "on".into()],
            rows: vec![vec!["latency p50".into(), "FAIL +2.1 ms".into()]],
            links: vec![(0, 0, "http://x/?a=1&b=2".into())],
        };
        let html = table_html(&t);
        assert!(html.contains("<td><a href=\"http://x/?a=1&amp;b=2\">latency p50</a></td>"));
        assert!(
            html.contains("<td class=\"fail\">FAIL +2.1 ms</td>"),
            "{html}"
        );
    }
}
