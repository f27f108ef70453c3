//! `summary.json`: the run's results and analysis in one versioned document, the input of
//! `tracebench report` and `tracebench compare` (read back by
//! [`load_summary`](crate::compare::load_summary), which checks the version first).

use anyhow::Result;

use super::{Exporter, Summary};

pub struct Json;

impl Exporter for Json {
    fn file_name(&self) -> String {
        "summary.json".to_string()
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(summary)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
