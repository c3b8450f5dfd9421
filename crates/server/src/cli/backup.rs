//! `auth-service backup --output FILE` and `restore --input FILE`
//! ([`crate::services::backup`] has the format). Progress goes to stderr
//! when it is a terminal; the summary is JSON on stdout.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::{CliError, Context, print_json};
use crate::services::backup::{self, BackupError};

impl From<BackupError> for CliError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::Store(e) => e.into(),
            other => CliError::runtime(other.to_string()),
        }
    }
}

/// A progress line on a terminal, nothing otherwise.
fn progress() -> impl FnMut(&str, u64, Option<u64>) {
    let terminal = std::io::stderr().is_terminal();
    move |what: &str, done: u64, total: Option<u64>| {
        if !terminal {
            return;
        }
        let line = match total {
            Some(total) if total > 0 => {
                let width = 30;
                let filled = usize::try_from(done.min(total) * width / total).unwrap_or(0);
                let bar =
                    "#".repeat(filled) + &"-".repeat(usize::try_from(width).unwrap_or(30) - filled);
                format!("\r{what:>8} [{bar}] {done}/{total}")
            }
            _ => format!("\r{what:>8} {done}"),
        };
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        if total.is_some_and(|t| done >= t) {
            let _ = err.write_all(b"\n");
        }
        let _ = err.flush();
    }
}

pub async fn backup(ctx: Context, output: &Path) -> Result<(), CliError> {
    let started = Instant::now();
    // Written beside the target, then renamed: never half a backup under its name.
    let partial = output.with_extension("partial");
    // 0600: a backup holds password hashes and the sealed signing keys. A
    // stale partial file goes first, so the mode is ours.
    let _ = std::fs::remove_file(&partial);
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
    }
    .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", partial.display())))?;
    let now = crate::services::rfc3339(store::Clock::now(&store::SystemClock));
    let mut report = progress();
    let counts = backup::export(
        ctx.store.as_ref(),
        &ctx.master_key,
        now,
        BufWriter::new(file),
        &mut report,
    )
    .await;
    let counts = match counts {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    std::fs::rename(&partial, output)
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", output.display())))?;
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    print_json(&json!({
        "output": output.display().to_string(),
        "backend": ctx.store.backend(),
        "counts": counts,
        "bytes": bytes,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }))
}

pub async fn restore(ctx: Context, input: &Path, force: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let open = || {
        File::open(input)
            .map(BufReader::new)
            .map_err(|e| CliError::runtime(format!("cannot open {}: {e}", input.display())))
    };
    let expected = backup::verify(open()?, &ctx.master_key)?;
    let mut report = progress();
    let counts = backup::import(ctx.store.clone(), open()?, &expected, force, &mut report).await?;
    tracing::warn!(
        category = "security",
        event = "backup_restored",
        input = %input.display(),
        outcome = "success",
        "a backup was restored into the store"
    );
    print_json(&json!({
        "input": input.display().to_string(),
        "backend": ctx.store.backend(),
        "counts": counts,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }))
}
