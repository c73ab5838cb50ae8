//! `trunkgate run [--config FILE]`, `trunkgate check-config FILE` and
//! `trunkgate reload [--http ADDR]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trunkgate::config;
use trunkgate::gateway::Gateway;

const DEFAULT_PATH: &str = "config/trunkgate.toml";

#[derive(Parser)]
#[command(name = "trunkgate", version, about = "SIP-trunk edge gateway (SBC)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// Config file. Without it, config/trunkgate.toml if present, else the embedded default.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Log format.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
    },
    /// Validate a config file: exit 0 if valid, 1 with every error listed.
    CheckConfig { file: PathBuf },
    /// Ask a running gateway to re-read its config file (POST /v1/Admin/Reload,
    /// API key from TRUNKGATE_API_KEY): exit 0 when reloaded, 1 with the errors.
    Reload {
        /// The gateway's HTTP listener.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match config::load_file(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::FAILURE
            }
        },
        Command::Reload { http } => match reload_remote(http) {
            Ok(()) => {
                println!("reloaded");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("trunkgate reload: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config, log_format } => match run(config, &log_format) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trunkgate: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `trunkgate reload`: the admin endpoint of the gateway at `http`.
fn reload_remote(http: std::net::SocketAddr) -> anyhow::Result<()> {
    let key = std::env::var("TRUNKGATE_API_KEY")
        .context("set TRUNKGATE_API_KEY to an API key of the gateway")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let resp = reqwest::Client::new()
            .post(format!("http://{http}/v1/Admin/Reload"))
            .header("X-API-Key", key)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .with_context(|| format!("no gateway answering at {http}"))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            let msg = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or(body);
            anyhow::bail!("{status}: {msg}")
        }
    })
}

fn load(path: Option<PathBuf>) -> anyhow::Result<config::Config> {
    match path {
        Some(p) => config::load_file(&p).map_err(|e| anyhow::anyhow!("{e}")),
        None if Path::new(DEFAULT_PATH).exists() => {
            config::load_file(Path::new(DEFAULT_PATH)).map_err(|e| anyhow::anyhow!("{e}"))
        }
        None => {
            tracing::info!("no {DEFAULT_PATH}: using the embedded default config");
            config::parse_str(config::DEFAULT_CONFIG, "<embedded default>")
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    }
}

fn run(path: Option<PathBuf>, log_format: &str) -> anyhow::Result<()> {
    let config = load(path.clone())?;
    trunkgate::logging::init(log_format, &config.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let gw = Gateway::start(config).await.context("start")?;
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("SIGHUP handler")?;
        loop {
            tokio::select! {
                _ = wait_for_signal() => break,
                _ = hup.recv() => reload(&gw, path.clone()),
            }
        }
        let grace = gw.shutdown_grace();
        tracing::info!(
            grace_s = grace.as_secs(),
            "draining: new calls get 503, live calls may finish (signal again to stop now)"
        );
        let left = tokio::select! {
            n = gw.drain(grace) => n,
            _ = wait_for_signal() => -1,
        };
        tracing::info!(calls_still_up = left, "shutting down");
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        gw.shutdown().await;
        Ok(())
    })
}

/// SIGHUP: re-reads the config file the gateway started from. A file that
/// fails validation changes nothing: every error is logged and counted.
fn reload(gw: &Gateway, path: Option<PathBuf>) {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
    match load(path) {
        Ok(config) => gw.reload(config),
        Err(e) => {
            tracing::error!(errors = %e, "config reload refused: nothing changed");
            gw.reload_failed();
        }
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
