use clap::Parser;
use cognate_server::cli::{Cli, Command};
use cognate_server::{commands, start, ServeOptions};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The server narrates at info; the one-shot commands print their own results.
    let default_level = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("COGNATE_LOG").unwrap_or_else(|_| EnvFilter::new(default_level)))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cognate: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args.into()).await.map(|()| true),
            Command::Outbox(args) => commands::outbox(args).await.map(|()| true),
            Command::Invocations(args) => commands::invocations(args).await.map(|()| true),
            Command::Events(args) => commands::events(args).map(|()| true),
            Command::Invoke(args) => commands::invoke(args).await,
        }
    });
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        // The command printed what went wrong (e.g. the function it ran failed).
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cognate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(opts: ServeOptions) -> Result<(), String> {
    let mut running = start(opts).await?;
    tracing::info!(url = %running.url(), public_url = running.public_url(), "cognate is listening");
    let stop = running.take_stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    });
    running.wait().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
