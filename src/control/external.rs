//! The external target: tracebench cannot restart the services, so the user switches modes by hand.
//! It asks on the terminal (or takes the mode as given when there is no one to ask) and records
//! what it was told, so a report says the mode was applied by hand.

use std::io::{BufRead, Write};

use tokio_util::sync::CancellationToken;

use super::ModeEnv;
use crate::resources::Source;

pub struct ExternalTarget {
    /// Ask and wait for Enter before each mode; when false, trust that the mode is applied.
    pub prompt: bool,
    /// The modes, in the order the user confirmed them.
    pub applied: Vec<String>,
    /// Processes or containers to sample, if the scenario names any.
    pub sources: Vec<Source>,
}

impl ExternalTarget {
    pub fn new(prompt: bool, sources: Vec<Source>) -> ExternalTarget {
        ExternalTarget {
            prompt,
            applied: Vec::new(),
            sources,
        }
    }

    /// Asks and waits for Enter, unless `cancel` fires first (the terminal read is then left
    /// behind, and the mode is not recorded as applied).
    pub(super) async fn apply(
        &mut self,
        mode: &ModeEnv,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        if self.prompt {
            let text = instructions(mode);
            let answer = tokio::task::spawn_blocking(move || ask(&text, std::io::stdin().lock()));
            tokio::select! {
                answered = answer => answered??,
                () = cancel.cancelled() => return Ok(()),
            }
        }
        self.applied.push(mode.mode.clone());
        Ok(())
    }

    pub(super) async fn restore(&mut self) -> anyhow::Result<()> {
        if self.prompt && !self.applied.is_empty() {
            eprintln!("tracebench: done; put your services back in their usual configuration.");
        }
        Ok(())
    }
}

fn instructions(mode: &ModeEnv) -> String {
    let mut text = format!("Switch the services to mode '{}':\n", mode.mode);
    for (service, env) in &mode.services {
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text += &format!("  {service}: {}\n", vars.join(" "));
    }
    text + "then press Enter (Ctrl-D aborts): "
}

fn ask(text: &str, mut input: impl BufRead) -> anyhow::Result<()> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        anyhow::bail!("no confirmation on standard input (end of input): mode not applied");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_list_each_service_overrides() {
        let env = [("OTEL_TRACES_SAMPLER".to_string(), "always_on".to_string())].into();
        let text = instructions(&ModeEnv::uniform("on", ["gw", "auth"], &env));
        assert!(text.contains("mode 'on'"));
        assert!(text.contains("  auth: OTEL_TRACES_SAMPLER=always_on\n"));
        assert!(text.contains("  gw: OTEL_TRACES_SAMPLER=always_on\n"));
    }

    #[test]
    fn enter_confirms_and_end_of_input_refuses() {
        assert!(ask("", &b"\n"[..]).is_ok());
        let err = ask("", &b""[..]).unwrap_err();
        assert!(err.to_string().contains("end of input"));
    }

    #[tokio::test]
    async fn without_prompt_the_mode_is_recorded() {
        let mut t = ExternalTarget::new(false, Vec::new());
        let mode = ModeEnv::uniform("off", ["gw"], &Default::default());
        t.apply(&mode, &CancellationToken::new()).await.unwrap();
        assert_eq!(t.applied, ["off"]);
    }
}
