//! The auth service's own work per registration (validation, 64 SHA-256 rounds over a random
//! salt, UUID, insert into the bounded store), the yardstick the tracing cost is compared to.
//!
//! Run: `cargo bench -p demo --bench users`.

use criterion::{Criterion, criterion_group, criterion_main};
use demo::users::{DEFAULT_MAX_USERS, UserStore};

fn register(c: &mut Criterion) {
    let store = UserStore::new(DEFAULT_MAX_USERS);
    let mut seq = 0u64;
    c.bench_function("user_store_register", |b| {
        b.iter(|| {
            seq += 1;
            store
                .register(&format!("user{seq}"), "user@example.com", "password1")
                .expect("unique names register")
        })
    });
}

criterion_group!(benches, register);
criterion_main!(benches);
