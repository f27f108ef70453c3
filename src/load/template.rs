//! Request body templates. Every request gets unique values (`{seq}`, `{uuid}`, `{run}`) so that,
//! e.g., registrations do not collide unless the user wants them to. The template is parsed once;
//! rendering is a copy of literal bytes plus the placeholders, with no parsing on the hot path.

use std::io::Write;

use bytes::Bytes;

/// A parsed body template. The tokens `{seq}`, `{uuid}` and `{run}` are placeholders, any other
/// `{word}` is refused, and every other brace is literal text, so JSON bodies need no escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// The request's sequence number within the run (0, 1, 2, ...; warm-up included).
    Seq,
    /// A fresh random UUID v4 per request.
    Uuid,
    /// The run's identifier, the same for every request of one run.
    Run,
}

/// The default body: a unique user registration for the demo gateway's `POST /api/auth/register`.
pub const DEFAULT_REGISTER_BODY: &str = r#"{"username":"u{run}-{seq}","email":"u{run}-{seq}@example.test","password":"pw-{run}-{seq}-secret"}"#;

impl BodyTemplate {
    /// Parses a template. A `{word}` that is not a placeholder is an error naming it (a misspelt
    /// placeholder would otherwise be sent literally in every request); other braces, such as
    /// JSON's, are text.
    pub fn parse(template: &str) -> Result<BodyTemplate, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let word_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            text.push_str(&rest[..open]);
            if word_len == 0 || !after[word_len..].starts_with('}') {
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
        Ok(BodyTemplate { parts })
    }

    /// The default unique registration payload ([`DEFAULT_REGISTER_BODY`]).
    pub fn default_register() -> BodyTemplate {
        BodyTemplate::parse(DEFAULT_REGISTER_BODY)
            .expect("the default body has only known placeholders")
    }

    /// Renders the body of request `seq` of run `run`.
    pub fn render(&self, seq: u64, run: &str) -> Bytes {
        let mut out = Vec::with_capacity(self.len_hint(run));
        for part in &self.parts {
            match part {
                Part::Text(text) => out.extend_from_slice(text.as_bytes()),
                // Writing into a Vec cannot fail.
                Part::Seq => {
                    let _ = write!(out, "{seq}");
                }
                Part::Uuid => {
                    let mut buf = uuid::Uuid::encode_buffer();
                    out.extend_from_slice(
                        uuid::Uuid::new_v4()
                            .hyphenated()
                            .encode_lower(&mut buf)
                            .as_bytes(),
                    );
                }
                Part::Run => out.extend_from_slice(run.as_bytes()),
            }
        }
        Bytes::from(out)
    }

    fn len_hint(&self, run: &str) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.len(),
                Part::Seq => 20,
                Part::Uuid => 36,
                Part::Run => run.len(),
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_other_braces_kept() {
        let t = BodyTemplate::parse(r#"{"a":"{seq}","b":"{run}","c":{ "d":"{ seq}"}}"#).unwrap();
        assert_eq!(
            t.render(42, "r1"),
            Bytes::from_static(br#"{"a":"42","b":"r1","c":{ "d":"{ seq}"}}"#)
        );
    }

    #[test]
    fn an_unknown_placeholder_is_an_error() {
        let err = BodyTemplate::parse("id={sequence}").unwrap_err();
        assert!(err.contains("{sequence}"), "{err}");
    }

    #[test]
    fn uuid_differs_per_request_and_text_keeps_unicode() {
        let t = BodyTemplate::parse("é{uuid}").unwrap();
        let (a, b) = (t.render(0, ""), t.render(0, ""));
        assert_ne!(a, b);
        assert_eq!(a.len(), "é".len() + 36);
    }

    #[test]
    fn default_body_is_unique_json() {
        let t = BodyTemplate::default_register();
        let a: serde_json::Value = serde_json::from_slice(&t.render(1, "ab12")).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&t.render(2, "ab12")).unwrap();
        assert_eq!(a["username"], "uab12-1");
        assert_ne!(a["username"], b["username"]);
        assert_ne!(a["email"], b["email"]);
    }
}
