//! `trunkgate-flow-worker`: the reference call-flow worker. Serves the
//! `trunkgate.flow.v1.CallFlow` gRPC service and runs each call's flow from
//! HTTP callbacks (see the library of this crate, `trunkgate_flow_worker`).
//!
//! ```text
//! trunkgate-flow-worker --listen 127.0.0.1:50051 --callback-url http://127.0.0.1:8080/flow
//! trunkgate-flow-worker --config worker.toml
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use trunkgate_flow_worker::{serve, WorkerConfig};

#[derive(Parser, Debug)]
#[command(
    name = "trunkgate-flow-worker",
    version,
    about = "Reference call-flow worker for trunkgate"
)]
struct Args {
    /// TOML configuration (listen address, callback URLs per number, timeouts).
    #[arg(long, conflicts_with = "callback_url")]
    config: Option<PathBuf>,
    /// gRPC listen address (overrides the config file's `listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Callback URL for every number (the simple case, without --config).
    #[arg(long)]
    callback_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut cfg = match (&args.config, &args.callback_url) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            WorkerConfig::from_toml(&text, &path.display().to_string())?
        }
        (None, Some(url)) => {
            WorkerConfig::simple(args.listen.unwrap_or(([127, 0, 0, 1], 50051).into()), url)?
        }
        (None, None) => anyhow::bail!("give --config FILE or --callback-url URL"),
    };
    if let Some(listen) = args.listen {
        cfg.listen = listen;
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(listen = %cfg.listen, "trunkgate-flow-worker serving");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(cfg, listener, shutdown).await?;
    Ok(())
}
