//! Proves the shared test support works from the root crate: it finds (or builds) the demo
//! binaries, starts the stack on free ports and a registration goes through it.

mod support;

#[test]
fn demo_stack_starts_and_registers_a_user() {
    let stack = support::DemoStack::start(&[]);
    let (status, body) = stack
        .post(
            "/api/auth/register",
            &[],
            r#"{"username":"support","email":"support@example.com","password":"password1"}"#,
        )
        .expect("register request");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("user_id"), "{body}");
    stack.stop();
}
