//! A small HTTP service to run as a process or a container (the `tb-helper` binary), and images
//! built from it on the real Docker Engine.
//!
//! It answers `GET /health` and `GET /env/NAME` (the value of variable NAME, so a test sees which
//! mode the service started in), and on request burns CPU (`TB_HELPER_BURN_PCT`, % of one core,
//! exactly: see [`burn`]), holds memory (`TB_HELPER_ALLOC_MB`) or fails at start (`TB_HELPER_EXIT`, after printing a
//! line).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The helper's `main`: serves on `TB_HELPER_LISTEN` until killed.
pub fn serve() {
    let listen = std::env::var("TB_HELPER_LISTEN").expect("TB_HELPER_LISTEN: where to listen");
    // As PID 1 in a container, SIGTERM has no default action: exit on it like a real service.
    extern "C" fn exit_now(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) }
    }
    if std::process::id() == 1 {
        // SAFETY: installs a handler that only calls an async-signal-safe function.
        unsafe { libc::signal(libc::SIGTERM, exit_now as *const () as libc::sighandler_t) };
    }
    if let Ok(code) = std::env::var("TB_HELPER_EXIT") {
        println!("helper: failing on purpose with code {code}");
        std::process::exit(code.parse().unwrap_or(3));
    }
    if let Ok(mb) = std::env::var("TB_HELPER_ALLOC_MB") {
        let mut block = vec![0u8; mb.parse::<usize>().expect("TB_HELPER_ALLOC_MB") << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        std::mem::forget(block);
    }
    if let Ok(pct) = std::env::var("TB_HELPER_BURN_PCT") {
        let share = pct.parse::<f64>().expect("TB_HELPER_BURN_PCT: a number") / 100.0;
        std::thread::spawn(move || burn(share));
    }
    let listener = TcpListener::bind(&listen).expect("helper: bind");
    println!("helper: listening on {listen}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || answer(stream));
    }
}

/// Uses `share` of one core, a known figure to check CPU readings against: every 10 ms of wall
/// time it spins until this thread's own CPU clock reaches `share` of the time since it began,
/// so its CPU time stays within one period's spin (0.3 ms at 3%) of `share` x elapsed whatever
/// the scheduler does (time lost to other processes is made up), and a window's edges cut
/// little. Never returns.
pub fn burn(share: f64) {
    const PERIOD: Duration = Duration::from_millis(10);
    let start = Instant::now();
    let cpu_start = thread_cpu();
    for period in 1.. {
        let due = start.elapsed().mul_f64(share);
        while thread_cpu() - cpu_start < due {
            std::hint::spin_loop();
        }
        let next = start + PERIOD * period;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// This thread's CPU time.
pub fn thread_cpu() -> Duration {
    let ns = tracebench::resources::procfs::clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
        .expect("clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::from_nanos(ns)
}

fn answer(mut stream: TcpStream) {
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path.strip_prefix("/env/") {
        Some(name) => match std::env::var(name) {
            Ok(value) => ("200 OK", value),
            Err(_) => ("404 Not Found", String::new()),
        },
        None if path == "/health" => ("200 OK", "ok".to_string()),
        None => ("404 Not Found", String::new()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The helper as a local command (program, args) plus the env var telling it where to listen.
pub fn command(listen: &str) -> (PathBuf, Vec<String>, Vec<(String, String)>) {
    (
        crate::demo::workspace_bin("testkit", "tb-helper"),
        Vec::new(),
        vec![("TB_HELPER_LISTEN".into(), listen.into())],
    )
}

/// An image running the helper, built by scripts/offline-images.sh (rebuilt only when the binary
/// changed).
pub fn image(tag: &str) -> String {
    let exe = crate::demo::workspace_bin("testkit", "tb-helper");
    let script = crate::repo().join("scripts/offline-images.sh");
    let status = Command::new(script)
        .args([
            "--binary".as_ref(),
            exe.as_os_str(),
            "--tag".as_ref(),
            tag.as_ref(),
        ])
        .status()
        .expect("running offline-images.sh");
    assert!(status.success(), "offline-images.sh failed for {tag}");
    tag.to_string()
}
