//! The store's error: small on purpose. Callers map it to their protocol
//! (`NotFound` to 404, `Conflict` to 409/412, `Unavailable` to 503); the
//! cause chain stays in `source` for the log.

use std::error::Error as StdError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

type Source = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist (or has expired, which is the same thing).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a compare-and-swap on a version failed.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The backend could not be reached, or did not answer within its timeout.
    #[error("store unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// Stored data could not be read back: a bad row, an unknown schema
    /// version, or a file that is not a database.
    #[error("store data is corrupt or unsupported: {message}")]
    Corrupt {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

/// Which rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another record already holds this unique value (e.g. a userName).
    Unique(&'static str),
    /// The record changed since the version the caller read.
    Version,
    /// The record already exists.
    Exists,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::Unique(field) => write!(f, "{field} is already taken"),
            Conflict::Version => f.write_str("version mismatch"),
            Conflict::Exists => f.write_str("record already exists"),
        }
    }
}

impl Error {
    pub fn unavailable(message: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn corrupt(message: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Corrupt {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::corrupt("a stored record is not valid JSON for its type", e)
    }
}
