//! The files a team copies: the GitHub Actions workflow (`examples/github/`) against GitHub's
//! workflow schema (SchemaStore's, as `check-jsonschema` vendors it) with every `run:` script
//! parsed by bash and checked by shellcheck (as actionlint does: `${{ }}` expressions stand in as
//! a variable, so their quoting is checked too), and the Kubernetes manifests (`deploy/k8s/`)
//! against the Kubernetes API schemas (`kubernetes-validate --strict`: unknown fields are errors),
//! with every `tracebench` flag they use one that `tracebench drive` takes and their script
//! checked by shellcheck. actionlint itself cannot be installed here (see the README).

use std::process::Command;

use testkit::repo;

/// Runs `program` (a Python tool from PyPI, or shellcheck from Debian's packages, which `.ci/run`
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
                    "{program} is not installed (pip install check-jsonschema \
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

/// Each `run:` script of the workflow, parsed (not run) by bash, then checked by shellcheck as
/// the bash GitHub runs it with; each `${{ }}` expression stands in as `${GITHUB_EXPR}`.
const RUN_SCRIPTS_CHECK: &str = r#"
import re, subprocess, sys, yaml
workflow = yaml.safe_load(open(sys.argv[1]))
scripts = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
assert scripts, "no run steps"
for script in scripts:
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)
    script = re.sub(r"\$\{\{.*?\}\}", "${GITHUB_EXPR}", script)
    out = subprocess.run(["shellcheck", "--shell=bash", "-"], input=script.encode(), capture_output=True)
    assert out.returncode == 0, script + out.stdout.decode()
print(len(scripts))
"#;

/// Fails when shellcheck is missing (after the skip that says so) and when the scripts fail.
fn check_run_scripts(workflow: &str) -> Option<std::process::Output> {
    tool("shellcheck", &["--version"])?;
    tool("python3", &["-c", RUN_SCRIPTS_CHECK, workflow])
}

#[test]
fn the_github_workflow_follows_the_workflow_schema_and_its_scripts_pass_shellcheck() {
    let workflow = "examples/github/tracebench.yml";
    let args = ["--builtin-schema", "vendor.github-workflows", workflow];
    let Some(out) = tool("check-jsonschema", &args) else {
        return;
    };
    assert_ok(&out, "check-jsonschema");
    let Some(out) = check_run_scripts(workflow) else {
        return;
    };
    assert_ok(&out, "bash -n and shellcheck on the run: scripts");
    // A workflow that breaks the schema is refused: the check can fail.
    let broken = std::env::temp_dir().join(format!("tb-workflow-{}.yml", std::process::id()));
    let text = std::fs::read_to_string(repo().join(workflow)).unwrap();
    std::fs::write(&broken, text.replace("runs-on:", "runs_on:")).unwrap();
    let out = tool(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.github-workflows",
            broken.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(!out.status.success(), "a job without runs-on passed");
    // An unquoted variable in a script, or an unquoted expression, is found.
    for (quoted, bare) in [
        ("\"$run_id\"", "$run_id"),
        (
            "\"$DEFAULT_BRANCH\"",
            "${{ github.event.repository.default_branch }}",
        ),
    ] {
        assert!(text.contains(quoted), "{quoted}");
        std::fs::write(&broken, text.replacen(quoted, bare, 1)).unwrap();
        let out = check_run_scripts(broken.to_str().unwrap()).unwrap();
        assert!(!out.status.success(), "{bare} unquoted passed shellcheck");
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
