//! The secrets of accounts: passwords (Argon2id, as OWASP recommends, at argon2's default cost:
//! 19 MiB and 2 passes: a sign-in takes 14 ms here, release build) and the random secrets of sessions and API tokens (256 bits
//! from the OS, stored as SHA-256: a secret that long cannot be guessed, so a slow hash would only
//! slow every request).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The prefix of API tokens, so they are recognisable in a script or a leak scanner.
pub const TOKEN_PREFIX: &str = "spt_";
/// Shortest password accepted (NIST SP 800-63B asks for 8 at least).
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted: Argon2 costs grow with its length, and no one types more.
pub const MAX_PASSWORD: usize = 1024;
/// Password hashes computed at once. Each takes 19 MiB for about 14 ms: 300 sign-ins with unknown
/// names sent at once took the server to a 2.2 GB peak in 5.0 s without this bound; with it (and
/// the failures counted inside the turn, see `signin`) 157 MB in 1.1 s, 103 hashed and 197 refused
/// by the per-address bound (release build). Past it they wait their turn.
const MAX_HASHING: usize = 4;
/// How long a sign-in waits for its turn before it is told the server is busy.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_HASHING);

/// A turn to hash, one of [`MAX_HASHING`]; `None` when it did not come within [`HASHING_WAIT`].
pub async fn turn() -> Option<tokio::sync::SemaphorePermit<'static>> {
    tokio::time::timeout(HASHING_WAIT, HASHING.acquire()).await.ok()?.ok()
}

/// Runs a password hash or check on a blocking thread, in a [`turn`].
pub async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _turn = turn().await?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// 32 random bytes from the OS, as URL-safe base64 (43 characters).
pub fn random() -> String {
    let mut bytes = [0u8; 32];
    // The OS's randomness failing is not a state the server can go on from.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API token's secret.
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random())
}

/// How a session id or token is stored and looked up: its SHA-256, in hex.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a password is one sheetport takes; the sentence says why not.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!("the password is too short: use at least {MIN_PASSWORD} characters"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(format!("the password is too long: use at most {MAX_PASSWORD} bytes"));
    }
    Ok(())
}

/// The Argon2id hash of `password` in PHC form (salt and parameters included). CPU-bound: call it
/// on a blocking thread.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random number generator");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("Argon2 with its default parameters").to_string()
}

/// Whether `password` matches `hash`. A hash that cannot be read matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified against for names that have no account, so that answering
/// "no such person" takes as long as "wrong password" and does not tell which names exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(h, hash_password("correct horse"), "salted");
        assert!(check_password("short").is_err() && check_password("long enough").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_work_runs_a_few_at_a_time_however_many_ask() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let asks = (0..40).map(|_| {
            let (now, most) = (now.clone(), most.clone());
            hashing(move || {
                most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                now.fetch_sub(1, Ordering::SeqCst);
            })
        });
        let done = futures::future::join_all(asks).await;
        assert!(done.iter().all(Option::is_some), "each had its turn within the wait");
        assert_eq!(most.load(Ordering::SeqCst), MAX_HASHING);
    }

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let (a, b) = (new_token(), new_token());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
