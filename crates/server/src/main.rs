use std::io::IsTerminal;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use cognate_server::cli::{Cli, Command, LogFormat};
use cognate_server::{commands, start, Running, ServeOptions};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The server narrates at info; the one-shot commands print their own results.
    let (default_level, format) = match &cli.command {
        Command::Serve(args) => ("info", args.log_format),
        _ => ("warn", LogFormat::Text),
    };
    init_logging(default_level, format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cognate: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                let from_env = matches
                    .subcommand_matches("serve")
                    .and_then(|m| m.value_source("master_key"))
                    .is_some_and(|s| s == ValueSource::EnvVariable);
                let mut opts = ServeOptions::from(args);
                if from_env {
                    opts.master_key_origin = "COGNATE_MASTER_KEY";
                }
                serve(opts, format).await.map(|()| true)
            }
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

/// Logs go to stderr. The level is `RUST_LOG`, else `COGNATE_LOG`, else `default_level`;
/// colours only when stderr is a terminal.
fn init_logging(default_level: &str, format: LogFormat) {
    let filter = ["RUST_LOG", "COGNATE_LOG"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()).map(EnvFilter::new))
        .unwrap_or_else(|| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn serve(opts: ServeOptions, format: LogFormat) -> Result<(), String> {
    let mut running = start(opts).await?;
    announce(&running, format);
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

/// Where the server is, where its data lives, which config file and functions it uses: a
/// short banner for people, one structured event for log collectors.
fn announce(running: &Running, format: LogFormat) {
    let s = running.summary();
    let config = s.config.as_ref().map(|p| p.display().to_string());
    if format == LogFormat::Json {
        let functions: Vec<&str> = s.functions.iter().map(|(name, _)| name.as_str()).collect();
        tracing::info!(
            url = %running.url(),
            public_url = running.public_url(),
            data_dir = %s.data_dir.display(),
            database = %s.database,
            config = config.as_deref().unwrap_or("none"),
            functions = ?functions,
            mode = s.mode.as_str(),
            access_keys = s.access_keys,
            cors_origins = ?s.cors_origins,
            "cognate is listening"
        );
        return;
    }
    let mut text = format!("cognate {} is listening on {}\n", env!("CARGO_PKG_VERSION"), running.url());
    if running.public_url() != running.url() {
        text.push_str(&format!("  public URL  {}\n", running.public_url()));
    }
    text.push_str(&format!("  data dir    {}\n", s.data_dir.display()));
    text.push_str(&format!("  database    {}\n", s.database));
    text.push_str(&format!("  config      {}\n", config.as_deref().unwrap_or("none (no ./cognate.toml)")));
    text.push_str(&format!("  mode        {}\n", mode_line(s)));
    if s.functions.is_empty() {
        text.push_str("  functions   none declared\n");
    }
    for (i, (name, how)) in s.functions.iter().enumerate() {
        let label = if i == 0 { "functions" } else { "" };
        text.push_str(&format!("  {label:<10}  {name}: {how}\n"));
    }
    text.push_str("  outbox      cognate outbox  (or GET /_cognate/outbox)\n");
    eprint!("{text}");
}

/// `dev` or `secure (2 access keys; CORS for https://app.example)`.
fn mode_line(s: &cognate_server::app::StartSummary) -> String {
    match s.mode {
        cognate_server::auth::Mode::Dev => "dev (no signatures checked; --mode secure to require them)".into(),
        cognate_server::auth::Mode::Secure => {
            let keys =
                if s.access_keys == 1 { "1 access key".into() } else { format!("{} access keys", s.access_keys) };
            let cors = if s.cors_origins.is_empty() {
                "no CORS origins".into()
            } else {
                format!("CORS for {}", s.cors_origins.join(", "))
            };
            format!("secure ({keys}; {cors})")
        }
    }
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
