//! `summary.json`: the run's results and analysis in one versioned document, the input of
//! `tracebench report` and `tracebench compare`. The version is checked before anything else,
//! so a file from an incompatible version fails with a message saying so rather than a
//! missing-field error deep inside.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{Exporter, Summary};
use crate::exit::UsageError;
use crate::results::SCHEMA_VERSION;

/// The file name of the summary inside a run directory.
pub const FILE_NAME: &str = "summary.json";

pub struct Json;

impl Exporter for Json {
    fn file_name(&self) -> String {
        FILE_NAME.to_string()
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(summary)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Reads a `summary.json`, or the one inside a run directory.
pub fn read(path: &Path) -> Result<Summary> {
    let file = if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", file.display())))?;
    parse(&text).with_context(|| format!("in {}", file.display()))
}

/// Parses a summary, checking `schema_version` first.
pub fn parse(text: &str) -> Result<Summary> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| UsageError(format!("not valid JSON: {err}")))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(version) => bail!(UsageError(format!(
            "schema_version is {version}, this tracebench reads version {SCHEMA_VERSION}"
        ))),
        None => bail!(UsageError(format!(
            "no schema_version: expected a tracebench summary.json (schema version {SCHEMA_VERSION})"
        ))),
    }
    serde_json::from_value(value)
        .map_err(|err| UsageError(format!("not a tracebench summary: {err}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_or_missing_versions_are_usage_errors_naming_the_version() {
        let err = parse(r#"{"schema_version": 99, "results": {}}"#).unwrap_err();
        assert!(err.to_string().contains("schema_version is 99"), "{err}");
        assert!(err.is::<UsageError>());
        let err = parse(r#"{"results": {}}"#).unwrap_err();
        assert!(err.to_string().contains("no schema_version"), "{err}");
        let err = parse("{").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
}
