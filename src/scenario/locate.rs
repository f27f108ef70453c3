//! Maps what went wrong (a byte offset from the TOML parser, or the dotted key path of a failed
//! semantic check) to a line and a key of the scenario file, so every error points where the user
//! must look. Works on toml's spanned document (`DeTable`), parsed once beside the typed one.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The spanned form of a scenario file.
pub struct Located<'i> {
    text: &'i str,
    root: Option<Spanned<DeTable<'i>>>,
}

impl<'i> Located<'i> {
    pub fn parse(text: &'i str) -> Located<'i> {
        Located {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The line of a dotted key path (`load.rates[1]`), or of its nearest ancestor present in the
    /// file when the key itself was left to its default; line 1 when nothing of it is present.
    pub fn line_of_path(&self, path: &str) -> usize {
        let Some(root) = &self.root else { return 1 };
        let mut span: Option<Range<usize>> = None;
        let mut value: &DeValue = &DeValue::Table(DeTable::default());
        let mut table = Some(root.get_ref());
        for segment in segments(path) {
            let next = match (&segment, table, value) {
                (Segment::Key(key), Some(t), _) => t
                    .iter()
                    .find(|(k, _)| k.get_ref().as_ref() == key.as_str())
                    .map(|(k, v)| (k.span(), v)),
                (Segment::Index(i), _, DeValue::Array(items)) => {
                    items.get(*i).map(|v| (v.span(), v))
                }
                _ => None,
            };
            let Some((found_span, found)) = next else {
                break;
            };
            span = Some(found_span);
            value = found.get_ref();
            table = match value {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        span.map_or(1, |s| self.line_of(s.start))
    }

    /// The dotted key path of the deepest key or value containing a byte offset (where a parse
    /// or type error was found); empty when the offset lies outside every key.
    pub fn path_at(&self, offset: usize) -> String {
        let Some(root) = &self.root else {
            return String::new();
        };
        let offset = offset.min(self.text.len());
        let line_end = self.text.as_bytes()[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.text.len(), |n| offset + n);
        let mut path = String::new();
        let mut value: &DeValue = &DeValue::Table(DeTable::default());
        let mut table = Some(root.get_ref());
        loop {
            // Inline values contain the offset; a table opened by a header only spans the header,
            // so its body belongs to the last key (or array element) starting before the offset,
            // or on its line (errors about a header table point at its `[`).
            let owns = |key: Range<usize>, value: Range<usize>| {
                let holds = |r: &Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
                let inside = holds(&key) || holds(&value);
                let before = key.start <= offset;
                (key.start <= line_end).then_some((!inside, !before, usize::MAX - key.start))
            };
            let best = match (table, value) {
                (Some(t), _) => t
                    .iter()
                    .filter_map(|(k, v)| owns(k.span(), v.span()).map(|rank| (rank, k, v)))
                    .min_by_key(|(rank, _, _)| *rank)
                    .map(|(_, k, v)| (format!(".{}", k.get_ref()), v)),
                (None, DeValue::Array(items)) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| owns(v.span(), v.span()).map(|rank| (rank, i, v)))
                    .min_by_key(|(rank, _, _)| *rank)
                    .map(|(_, i, v)| (format!("[{i}]"), v)),
                _ => None,
            };
            let Some((segment, found)) = best else { break };
            path.push_str(&segment);
            value = found.get_ref();
            table = match value {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        path.trim_start_matches('.').to_string()
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `a.b[1].c` -> `a`, `b`, `[1]`, `c`.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Segment::Key(key.to_string()));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n\n[load]\nrates = [\n  10,\n  -5,\n]\n\n[[target.services]]\nname = \"a\"\n\n[[target.services]]\nname = \"b\"\nenv = { K = \"v\" }\n";

    #[test]
    fn a_path_maps_to_the_line_of_its_key_or_element() {
        let doc = Located::parse(DOC);
        assert_eq!(doc.line_of_path("name"), 1);
        assert_eq!(doc.line_of_path("load.rates"), 4);
        assert_eq!(doc.line_of_path("load.rates[1]"), 6);
        assert_eq!(doc.line_of_path("target.services[1].name"), 13);
        assert_eq!(doc.line_of_path("target.services[1].env.K"), 14);
    }

    #[test]
    fn a_missing_key_falls_back_to_its_nearest_ancestor() {
        let doc = Located::parse(DOC);
        assert_eq!(doc.line_of_path("load.duration"), 3);
        assert_eq!(doc.line_of_path("budgets.cpu_pp"), 1);
    }

    #[test]
    fn an_offset_maps_to_the_deepest_key() {
        let doc = Located::parse(DOC);
        let offset = DOC.find("-5").unwrap();
        assert_eq!(doc.path_at(offset), "load.rates[1]");
        let offset = DOC.find("\"v\"").unwrap();
        assert_eq!(doc.path_at(offset), "target.services[1].env.K");
    }
}
