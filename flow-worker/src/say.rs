//! SAY: text-to-speech through `espeak-ng` when it is on PATH, written to a
//! temporary WAV the gateway plays (worker and gateway must share the
//! filesystem). Without espeak-ng SAY is logged as unsupported and skipped.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest synthesis we wait for.
const SYNTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest text passed to the synthesiser, in characters.
const MAX_TEXT: usize = 4000;

#[derive(Debug, thiserror::Error)]
pub enum SayError {
    #[error("espeak-ng is not installed")]
    NotInstalled,
    #[error("espeak-ng failed: {0}")]
    Failed(String),
}

/// A synthesized WAV, deleted on drop.
pub struct TempWav(PathBuf);

impl TempWav {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempWav {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub async fn synthesize(text: &str) -> Result<TempWav, SayError> {
    let text: String = text.chars().take(MAX_TEXT).collect();
    let path = std::env::temp_dir().join(format!("trunkgate-say-{}.wav", uuid::Uuid::new_v4()));
    let wav = TempWav(path);
    let run = tokio::process::Command::new("espeak-ng")
        .arg("-w")
        .arg(wav.path())
        .arg("--")
        .arg(&text)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(SYNTH_TIMEOUT, run).await {
        Err(_) => Err(SayError::Failed("timed out".into())),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(SayError::NotInstalled),
        Ok(Err(e)) => Err(SayError::Failed(e.to_string())),
        Ok(Ok(out)) if out.status.success() => Ok(wav),
        Ok(Ok(out)) => Err(SayError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )),
    }
}
