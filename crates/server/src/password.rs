//! Human passwords: Argon2id with OWASP parameters (m=19456 KiB, t=2, p=1),
//! stored as PHC strings so the parameters can be raised later
//! (SECURITY.md 10).
//!
//! Hashing runs on a few dedicated threads, one per core, fed by a queue:
//! each hash holds 19 MiB, so a burst of logins must queue rather than
//! exhaust memory. Dedicated threads rather than tokio's blocking pool
//! because the allocator keeps a freed 19 MiB block in the arena of the
//! thread that used it: spread over the blocking pool's many threads that
//! grew the process by hundreds of MiB under a login load; on a fixed set of
//! threads it stays at one block per thread.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};

use crate::secret::Secret;

/// RFC-free but NIST SP 800-63B §5.1.1.2: at least 8, and long passphrases
/// allowed (we take 1024 characters, never truncated).
pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks the length rules; no composition rules (NIST SP 800-63B).
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        Err(PasswordError::TooShort)
    } else if len > MAX_LENGTH {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads; they end when the last hasher is dropped.
struct Workers {
    jobs: Mutex<Sender<Job>>,
}

impl Workers {
    fn start(threads: usize) -> Result<Self, PasswordError> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue: Arc<Mutex<Receiver<Job>>> = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || {
                    loop {
                        // Take one job, releasing the queue before running it.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| PasswordError::Hash(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self {
            jobs: Mutex::new(jobs),
        })
    }
}

/// Hashes and verifies passwords off the async threads.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    workers: Arc<Workers>,
    /// A hash of a random password, verified against for unknown users so
    /// they take as long as known ones (SECURITY.md 13).
    dummy: Arc<String>,
}

impl PasswordHasher {
    /// OWASP's Argon2id parameters, with as many hashes in flight as cores.
    pub fn owasp() -> Result<Self, PasswordError> {
        let params =
            Params::new(19_456, 2, 1, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
        Self::with_params(params)
    }

    pub fn with_params(params: Params) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let dummy = hash_blocking(&params, "dummy password for unknown users")?;
        Ok(Self {
            params,
            workers: Arc::new(Workers::start(cores)?),
            dummy: Arc::new(dummy),
        })
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(&self, password: Secret<String>) -> Result<String, PasswordError> {
        check_policy(password.expose())?;
        let params = self.params.clone();
        self.run(move || hash_blocking(&params, password.expose()))
            .await?
    }

    /// True if `password` matches `phc`. With `phc = None` (unknown user) it
    /// verifies against a dummy hash and returns false, taking the same time.
    pub async fn verify(
        &self,
        password: Secret<String>,
        phc: Option<String>,
    ) -> Result<bool, PasswordError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.as_ref().clone());
        let matches = self
            .run(move || {
                let parsed =
                    PasswordHash::new(&phc).map_err(|e| PasswordError::Hash(e.to_string()))?;
                Ok::<_, PasswordError>(
                    Argon2::default()
                        .verify_password(password.expose().as_bytes(), &parsed)
                        .is_ok(),
                )
            })
            .await??;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.workers
            .jobs
            .lock()
            .map_err(|_| PasswordError::Hash("the hashing queue is poisoned".into()))?
            .send(job)
            .map_err(|_| PasswordError::Hash("the hashing threads are gone".into()))?;
        result
            .await
            .map_err(|_| PasswordError::Hash("a hashing job was dropped".into()))
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, PasswordError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}
