//! `report.md`: the report as Markdown, for pull requests and terminals. The verdict table
//! comes first, so a reader (or a CI job pasting it) sees the answer before the evidence.

use anyhow::Result;

use super::sections::{Section, Table, sections, title};
use super::{Exporter, Summary};

pub struct Markdown;

impl Exporter for Markdown {
    fn file_name(&self) -> String {
        "report.md".to_string()
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        let mut out = format!("# {}\n", title(summary));
        for section in sections(summary) {
            out.push_str(&section_md(&section));
        }
        let mut text = out.trim_end().to_string();
        text.push('\n');
        Ok(text.into_bytes())
    }
}

/// The title and the first section (at a glance: a sentence per mode and the verdict matrix):
/// what `tracebench run` prints at the end.
pub fn verdicts_md(summary: &Summary) -> String {
    let mut out = format!("# {}\n", title(summary));
    if let Some(first) = sections(summary).first() {
        out.push_str(&section_md(first));
    }
    let mut text = out.trim_end().to_string();
    text.push('\n');
    text
}

fn section_md(section: &Section) -> String {
    let mut out = format!("\n## {}\n\n", section.title);
    for p in &section.lead {
        out.push_str(&format!("{p}\n\n"));
    }
    if let Some(table) = &section.table {
        out.push_str(&table_md(table));
        out.push('\n');
    }
    for p in &section.paragraphs {
        out.push_str(&format!("{p}\n\n"));
    }
    for item in &section.items {
        out.push_str(&format!("- {item}\n"));
    }
    out
}

/// A GitHub-flavoured Markdown table; `|` inside cells is escaped.
pub fn table_md(table: &Table) -> String {
    let row = |cells: Vec<String>| {
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = row(table.header.clone());
    out.push_str(&row(table
        .header
        .iter()
        .map(|_| "---".to_string())
        .collect()));
    for (i, r) in table.rows.iter().enumerate() {
        let cells = r
            .iter()
            .enumerate()
            .map(|(j, cell)| match table.link(i, j) {
                Some(url) => format!("[{cell}]({url})"),
                None => cell.clone(),
            })
            .collect();
        out.push_str(&row(cells));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_pipes_and_have_a_divider() {
        let mut t = Table {
            links: Vec::new(),
            header: vec!["a".into(), "b".into()],
            rows: vec![vec!["x|y".into(), "2".into()]],
        };
        assert_eq!(table_md(&t), "| a | b |\n| --- | --- |\n| x\\|y | 2 |\n");
        t.links.push((0, 1, "http://127.0.0.1:3000/t".into()));
        assert!(table_md(&t).ends_with("| x\\|y | [2](http://127.0.0.1:3000/t) |\n"));
    }
}
