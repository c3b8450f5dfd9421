//! Human passwords: Argon2id with OWASP parameters (m=19456 KiB, t=2, p=1),
//! stored as PHC strings so the parameters can be raised later
//! (docs/security.md 10).
//!
//! Hashing runs on a few dedicated threads, one per core, fed by a queue:
//! each hash needs 19 MiB, so a burst of logins must queue rather than
//! exhaust memory. Each thread keeps one Argon2 memory block and reuses it
//! (`hash_password_into_with_memory`): allocating 19 MiB per hash left the
//! allocator's per-thread arenas holding several freed blocks each, and the
//! process at ~230 MiB after a few logins; reused, it stays near one block
//! per thread.

use std::cell::RefCell;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use subtle::ConstantTimeEq;

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

    fn submit(&self, job: Job) -> Result<(), PasswordError> {
        self.jobs
            .lock()
            .map_err(|_| PasswordError::Hash("the hashing queue is poisoned".into()))?
            .send(job)
            .map_err(|_| PasswordError::Hash("the hashing threads are gone".into()))
    }
}

/// Hashes and verifies passwords off the async threads.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    workers: Arc<Workers>,
    /// A hash of a random password, verified against for unknown users so
    /// they take as long as known ones (docs/security.md 13).
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
        let workers = Workers::start(cores)?;
        // Hashed on a worker, so the caller's thread keeps no Argon2 memory.
        let (done, result) = channel();
        let dummy_params = params.clone();
        workers.submit(Box::new(move || {
            let _ = done.send(hash_blocking(
                &dummy_params,
                "dummy password for unknown users",
            ));
        }))?;
        let dummy = result
            .recv()
            .map_err(|_| PasswordError::Hash("a hashing job was dropped".into()))??;
        Ok(Self {
            params,
            workers: Arc::new(workers),
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
            .run(move || verify_blocking(&phc, password.expose()))
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
        self.workers.submit(job)?;
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

thread_local! {
    /// This hashing thread's Argon2 memory, reused by every hash it runs.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), PasswordError> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    BLOCKS
        .with(|cell| {
            let mut blocks = cell.borrow_mut();
            let count = params.block_count();
            if blocks.len() < count {
                blocks.resize(count, Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
        })
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, PasswordError> {
    let fail = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let salt = argon2::password_hash::generate_salt();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Verifies against a PHC string, with the parameters it records (so hashes
/// made with older, weaker parameters still verify after they are raised).
fn verify_blocking(phc: &str, password: &str) -> Result<bool, PasswordError> {
    let fail = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let parsed = PasswordHash::new(phc).map_err(|e| fail(&e))?;
    let params = Params::try_from(&parsed).map_err(|e| fail(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| fail(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| fail(&e))?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Ok(false);
    };
    let mut out = vec![0u8; expected.len()];
    compute(
        algorithm,
        version,
        &params,
        password.as_bytes(),
        salt,
        &mut out,
    )?;
    Ok(out.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_phc_argon2id() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let hasher = PasswordHasher::with_params(params).unwrap();
        let phc = hasher
            .hash(Secret::new("correct horse".into()))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(
            hasher
                .verify(Secret::new("correct horse".into()), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Secret::new("correct horsf".into()), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Secret::new("correct horse".into()), None)
                .await
                .unwrap()
        );
        // A hash made by the argon2 crate's own API verifies here too.
        use argon2::PasswordHasher as _;
        let foreign = Argon2::default()
            .hash_password(b"other secret")
            .unwrap()
            .to_string();
        assert!(
            hasher
                .verify(Secret::new("other secret".into()), Some(foreign))
                .await
                .unwrap()
        );
        assert!(matches!(
            hasher.hash(Secret::new("short".into())).await,
            Err(PasswordError::TooShort)
        ));
    }
}
