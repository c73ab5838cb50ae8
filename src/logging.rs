//! The process's log subscriber, with its filter swappable at run time
//! (`[log] level`, re-applied by a config reload).
//!
//! `main.rs` installs the subscriber once; the library only ever changes the
//! filter through [`set_level`], which does nothing when no subscriber was
//! installed by [`init`] (tests embedding the gateway keep their own).

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

type Handle = reload::Handle<EnvFilter, Registry>;

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Installs the global subscriber on stderr: `format` `json` or text, the
/// filter from `RUST_LOG` when set, else `level` (`[log] level`).
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::builder().parse(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if format == "json" {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    if installed.is_ok() {
        let _ = HANDLE.set(handle);
    }
}

/// Replaces the filter with `level` (already validated by the config).
/// Returns false when there is nothing to change (no subscriber of ours,
/// or an unparsable filter, which keeps the old one).
pub fn set_level(level: &str) -> bool {
    let Some(handle) = HANDLE.get() else {
        return false;
    };
    match EnvFilter::builder().parse(level) {
        Ok(filter) => handle.reload(filter).is_ok(),
        Err(_) => false,
    }
}
