//! The demo stack's HTTP contract, against the real binaries on free loopback ports.

use std::path::Path;
use std::time::{Duration, Instant};

use testkit::demo::DemoStack;

const REGISTER: &str = "/api/auth/register";

fn start(env: &[(&str, &str)]) -> DemoStack {
    DemoStack::start_with(
        Path::new(env!("CARGO_BIN_EXE_demo-auth")),
        Path::new(env!("CARGO_BIN_EXE_demo-gateway")),
        env,
    )
}

fn register_body(username: &str) -> String {
    format!(
        r#"{{"username":"{username}","email":"{username}@example.com","password":"password1"}}"#
    )
}

/// Polls `/health` until it answers `want` (the gateway caches auth's health briefly).
fn wait_for_health(stack: &DemoStack, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = stack.get("/health").map(|(status, _)| status).ok();
        if status == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health stayed {status:?}, wanted {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn register_returns_a_user_id_and_a_duplicate_is_409() {
    let stack = start(&[]);
    let (status, body) = stack.post(REGISTER, &[], &register_body("ada")).unwrap();
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let user_id = reply["user_id"].as_str().unwrap_or_default();
    assert_eq!(user_id.len(), 36, "a UUID user_id: {body}");

    let (status, body) = stack.post(REGISTER, &[], &register_body("ada")).unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already registered"), "{body}");

    let (status, _) = stack.post(REGISTER, &[], &register_body("grace")).unwrap();
    assert_eq!(status, 200, "another name still registers");
}

#[test]
fn bad_json_and_invalid_fields_are_400() {
    let stack = start(&[]);
    for body in [
        "not json",
        r#"{"username":"x""#,
        r#"{"username":"x","email":"x@y"}"#,
        r#"{"username":1,"email":"x@y","password":"password1"}"#,
    ] {
        let (status, reply) = stack.post(REGISTER, &[], body).unwrap();
        assert_eq!(status, 400, "{body:?} gave {reply}");
        assert!(reply.contains("expected JSON"), "{reply}");
    }
    for (body, reason) in [
        (
            r#"{"username":"","email":"x@y","password":"password1"}"#,
            "username is empty",
        ),
        (
            r#"{"username":"x","email":"no-at","password":"password1"}"#,
            "email",
        ),
        (
            r#"{"username":"x","email":"x@y","password":"short"}"#,
            "password",
        ),
    ] {
        let (status, reply) = stack.post(REGISTER, &[], body).unwrap();
        assert_eq!(status, 400, "{body:?} gave {reply}");
        assert!(reply.contains(reason), "{reply} should name {reason:?}");
    }
    let long_name = "n".repeat(65);
    let (status, _) = stack
        .post(REGISTER, &[], &register_body(&long_name))
        .unwrap();
    assert_eq!(status, 400, "a 65-character username");
}

#[test]
fn unknown_routes_are_404_and_wrong_methods_405() {
    let stack = start(&[]);
    assert_eq!(stack.get("/nope").unwrap().0, 404);
    assert_eq!(stack.get(REGISTER).unwrap().0, 405);
}

#[test]
fn auth_down_is_502_and_health_tracks_auth() {
    let mut stack = start(&[]);
    assert_eq!(stack.get("/health").unwrap().0, 200);

    stack.stop_auth();
    wait_for_health(&stack, 503);
    let (status, body) = stack.post(REGISTER, &[], &register_body("lin")).unwrap();
    assert_eq!(status, 502, "{body}");

    stack.restart_auth();
    wait_for_health(&stack, 200);
    let (status, body) = stack.post(REGISTER, &[], &register_body("lin")).unwrap();
    assert_eq!(status, 200, "auth is back: {body}");
}

#[test]
fn extra_delay_slows_every_register_request() {
    // Only a lower bound is asserted: the delay must be there; how much else a busy machine
    // adds is not this test's business.
    let delay = Duration::from_millis(300);
    let stack = start(&[("DEMO_EXTRA_DELAY_MS", "300")]);
    for name in ["d1", "d2"] {
        let started = Instant::now();
        let (status, _) = stack.post(REGISTER, &[], &register_body(name)).unwrap();
        assert_eq!(status, 200);
        assert!(started.elapsed() >= delay, "took {:?}", started.elapsed());
    }
}
