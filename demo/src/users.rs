//! The auth service's user store: validation, salted password hashing and a bounded in-memory
//! table. Kept free of gRPC so its rules are unit-tested directly.
//!
//! The store is bounded (oldest users evicted first) so a long load run does not grow the
//! service's memory without limit: tracebench compares memory between tracing modes, and a store
//! that grew with the run would drown that difference. With the default cap of 50,000 users and
//! about 200 bytes per user the table levels off near 10 MB.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Default cap on stored users.
pub const DEFAULT_MAX_USERS: usize = 50_000;

/// SHA-256 rounds per password: real but cheap work. A whole registration with 64 rounds took
/// about 10 us (`cargo bench -p demo --bench users`, 2-core x86 VM under load), well under the
/// 1 ms latency budgets tracebench checks, so tracing's own cost is not drowned by the hashing.
const HASH_ROUNDS: usize = 64;

const MAX_USERNAME_LEN: usize = 64;
const MAX_EMAIL_LEN: usize = 254;
const MIN_PASSWORD_LEN: usize = 8;
const MAX_PASSWORD_LEN: usize = 128;

/// Why a registration was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("username {0:?} is already registered")]
    Duplicate(String),
}

#[expect(
    dead_code,
    reason = "email, salt and hash are kept as a real store would, but the demo never logs in"
)]
struct StoredUser {
    user_id: String,
    email: String,
    salt: [u8; 16],
    password_hash: [u8; 32],
}

/// Users by name, plus their insertion order for eviction.
pub struct UserStore {
    max_users: usize,
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_name: HashMap<String, StoredUser>,
    order: VecDeque<String>,
}

impl UserStore {
    pub fn new(max_users: usize) -> UserStore {
        UserStore {
            max_users: max_users.max(1),
            inner: Mutex::new(Table::default()),
        }
    }

    /// Validates, hashes (outside the lock) and stores a new user; returns its id.
    pub fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<String, RegisterError> {
        validate(username, email, password)?;
        let salt: [u8; 16] = rand::random();
        let password_hash = hash_password(&salt, password);
        let user = StoredUser {
            user_id: uuid::Uuid::new_v4().to_string(),
            email: email.to_owned(),
            salt,
            password_hash,
        };
        let user_id = user.user_id.clone();
        let mut table = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if table.by_name.contains_key(username) {
            return Err(RegisterError::Duplicate(username.to_owned()));
        }
        while table.order.len() >= self.max_users {
            if let Some(oldest) = table.order.pop_front() {
                table.by_name.remove(&oldest);
            }
        }
        table.by_name.insert(username.to_owned(), user);
        table.order.push_back(username.to_owned());
        Ok(user_id)
    }

    /// How many users are stored now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .order
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn validate(username: &str, email: &str, password: &str) -> Result<(), RegisterError> {
    let invalid = |message: String| Err(RegisterError::Invalid(message));
    if username.trim().is_empty() {
        return invalid("username is empty".into());
    }
    if username.chars().count() > MAX_USERNAME_LEN {
        return invalid(format!(
            "username is longer than {MAX_USERNAME_LEN} characters"
        ));
    }
    if !email.contains('@') || email.len() > MAX_EMAIL_LEN {
        return invalid(format!(
            "email must contain '@' and be at most {MAX_EMAIL_LEN} bytes"
        ));
    }
    let password_len = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password_len) {
        return invalid(format!(
            "password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters, got {password_len}"
        ));
    }
    Ok(())
}

/// `HASH_ROUNDS` of SHA-256 over the salt, the password and the previous digest.
fn hash_password(salt: &[u8; 16], password: &str) -> [u8; 32] {
    let mut digest: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(password.as_bytes())
        .finalize()
        .into();
    for _ in 1..HASH_ROUNDS {
        digest = Sha256::new()
            .chain_update(salt)
            .chain_update(digest)
            .finalize()
            .into();
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_then_refuses_a_duplicate_name() {
        let store = UserStore::new(10);
        let id = store
            .register("ada", "ada@example.com", "correct horse")
            .unwrap();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(
            store.register("ada", "other@example.com", "another password"),
            Err(RegisterError::Duplicate("ada".into()))
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn rejects_invalid_fields_with_a_reason() {
        let store = UserStore::new(10);
        let long_name = "x".repeat(MAX_USERNAME_LEN + 1);
        for (name, email, password, reason) in [
            ("", "a@b", "password1", "username is empty"),
            (long_name.as_str(), "a@b", "password1", "username is longer"),
            ("bob", "no-at-sign", "password1", "email must contain '@'"),
            ("bob", "a@b", "short", "password must be"),
        ] {
            match store.register(name, email, password) {
                Err(RegisterError::Invalid(message)) => {
                    assert!(message.contains(reason), "{message:?} lacks {reason:?}")
                }
                other => panic!("{name:?}/{email:?}/{password:?} gave {other:?}"),
            }
        }
        assert!(store.is_empty());
    }

    #[test]
    fn evicts_the_oldest_user_at_the_cap() {
        let store = UserStore::new(2);
        for name in ["a", "b", "c"] {
            store.register(name, "x@y", "password1").unwrap();
        }
        assert_eq!(store.len(), 2);
        // "a" was evicted, so its name is free again; "c" is still taken.
        assert!(store.register("a", "x@y", "password1").is_ok());
        assert!(store.register("c", "x@y", "password1").is_err());
    }

    #[test]
    fn hash_depends_on_salt_and_password() {
        let base = hash_password(&[1; 16], "password1");
        assert_eq!(base, hash_password(&[1; 16], "password1"));
        assert_ne!(base, hash_password(&[2; 16], "password1"));
        assert_ne!(base, hash_password(&[1; 16], "password2"));
    }
}
