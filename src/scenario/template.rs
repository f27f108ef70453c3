//! Request body templates: `{seq}`, `{uuid}` and `{run}` are replaced per request so each
//! registration is unique. Parsed once at load time, so a misspelt placeholder is a scenario
//! error with a line, not a silent literal in every request. Other braces (JSON) are kept as text.

/// A body split into literal text and placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// The request's sequence number in the cell (0, 1, 2...).
    Seq,
    /// A fresh random UUID (v4).
    Uuid,
    /// The run's identifier, so two runs do not collide.
    Run,
}

impl Template {
    /// Parses a template; `Err` names the first unknown `{word}` placeholder.
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let word_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let closes = word_len > 0 && after[word_len..].starts_with('}');
            text.push_str(&rest[..open]);
            if !closes {
                text.push('{');
                rest = after;
                continue;
            }
            let part = match &after[..word_len] {
                "seq" => Part::Seq,
                "uuid" => Part::Uuid,
                "run" => Part::Run,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}}; expected {{seq}}, {{uuid}} or {{run}}"
                    ));
                }
            };
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(part);
            rest = &after[word_len + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn render(&self, seq: u64, uuid: &str, run: &str) -> String {
        let mut out = String::with_capacity(self.source.len() + 40);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Seq => out.push_str(&seq.to_string()),
                Part::Uuid => out.push_str(uuid),
                Part::Run => out.push_str(run),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_json_braces_kept() {
        let t = Template::parse(r#"{"username":"u{seq}-{run}","email":"{uuid}@x.test"}"#).unwrap();
        assert_eq!(
            t.render(7, "abc", "r1"),
            r#"{"username":"u7-r1","email":"abc@x.test"}"#
        );
        assert_eq!(
            Template::parse("{}{ seq}").unwrap().render(1, "", ""),
            "{}{ seq}"
        );
    }

    #[test]
    fn an_unknown_placeholder_is_an_error() {
        let err = Template::parse("id={sequence}").unwrap_err();
        assert!(err.contains("{sequence}"), "{err}");
    }
}
