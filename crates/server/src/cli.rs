//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::auth::Mode;

#[derive(Debug, Parser)]
#[command(
    name = "cognate",
    version,
    about = "The Amazon Cognito user-pool API and its Lambda triggers, in one binary.",
    long_about = "cognate speaks Amazon Cognito's user-pool API (cognito-idp) so that AWS SDKs, the AWS CLI, \
amazon-cognito-identity-js and pycognito work against it unchanged, and runs Cognito's Lambda triggers. \
Start it with `cognate serve` and point a client at http://127.0.0.1:9229.",
    after_help = "Examples:\n  \
cognate serve                                   # API on http://127.0.0.1:9229, data in ./.cognate\n  \
cognate serve --config cognate.toml --listen 0.0.0.0:9229\n  \
cognate outbox --pool us-east-1_Example01 --user ana --code\n  \
cognate invocations --follow\n  \
cognate events PreSignUp_SignUp > event.json && cognate invoke pre-sign-up --event event.json\n\n\
Logs: RUST_LOG or COGNATE_LOG set the level (e.g. COGNATE_LOG=debug); `serve --log-format json` \
writes one JSON object per line."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (colours only on a terminal).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A listen address: `HOST:PORT` (host name or IP), or a bare `PORT` on 127.0.0.1.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    let value = value.trim();
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(format!("expected HOST:PORT or PORT, e.g. 127.0.0.1:9229, localhost:9229 or 9229 (got {value:?})"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("{port:?} is not a port number (0-65535)"));
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> =
        value.to_socket_addrs().map_err(|e| format!("cannot resolve the host name {host:?}: {e}"))?.collect();
    // `localhost` resolves to ::1 and 127.0.0.1; clients mostly try IPv4 first.
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("the host name {host:?} has no address"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (embedded SQLite in ./.cognate unless --database-url says otherwise).
    #[command(after_help = "Examples:\n  \
cognate serve                                        # http://127.0.0.1:9229, data in ./.cognate\n  \
cognate serve --listen 9300 --data-dir /tmp/cognate\n  \
cognate serve --database-url postgres://cognate@db/cognate --log-format json\n  \
cognate serve --mode secure --config cognate.toml --listen 0.0.0.0:9229   # signatures required")]
    Serve(ServeArgs),
    /// Show the messages a running server's pools sent (codes, temporary passwords, links).
    #[command(after_help = "Examples:\n  \
cognate outbox                                       # the newest 100 messages of every pool\n  \
cognate outbox --pool us-east-1_Example01 --user ana\n  \
code=$(cognate outbox --pool us-east-1_Example01 --user ana --code)   # just the newest code")]
    Outbox(OutboxArgs),
    /// Show a running server's trigger invocations, newest last; --follow keeps watching.
    #[command(after_help = "Examples:\n  \
cognate invocations                                  # the newest 20\n  \
cognate invocations --follow --trigger-source PreSignUp_SignUp")]
    Invocations(InvocationsArgs),
    /// Print a realistic sample event for a trigger source, e.g. `cognate events PreSignUp_SignUp`.
    #[command(after_help = "Example:\n  cognate events TokenGeneration_Authentication > event.json")]
    Events(EventsArgs),
    /// Run a function declared in the config file with an event, without a server, and show
    /// its response, output, duration and the Cognito error the result would cause.
    #[command(after_help = "Example:\n  \
cognate events PreSignUp_SignUp | cognate invoke pre-sign-up --event -")]
    Invoke(InvokeArgs),
}

/// Where a running server is.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of the running cognate server.
    #[arg(long, env = "COGNATE_URL", default_value = "http://127.0.0.1:9229")]
    pub url: String,
}

#[derive(Debug, Clone, Args)]
pub struct OutboxArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Only messages of this pool (its id).
    #[arg(long = "pool", value_name = "POOL_ID")]
    pub pool: Option<String>,

    /// Only messages to this user (username as the pool stores it).
    #[arg(long = "user", value_name = "USERNAME")]
    pub user: Option<String>,

    /// At most this many messages (the newest).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,

    /// Print the server's JSON answer as is.
    #[arg(long, conflicts_with = "code")]
    pub json: bool,

    /// Print only the code of the newest message that has one (fails when none has).
    #[arg(long)]
    pub code: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InvocationsArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Only invocations for this pool (its id).
    #[arg(long = "pool", value_name = "POOL_ID")]
    pub pool: Option<String>,

    /// Only invocations with this trigger source, e.g. PreSignUp_SignUp.
    #[arg(long, value_name = "TRIGGER_SOURCE")]
    pub trigger_source: Option<String>,

    /// At most this many invocations (the newest).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,

    /// Keep polling (every 500 ms) and print new invocations as they happen, until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Print JSON: the server's answer, or one invocation per line with --follow.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// The trigger source, e.g. PreSignUp_SignUp, TokenGeneration_Authentication,
    /// CustomMessage_ForgotPassword.
    pub trigger_source: String,
}

#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// The function: a [functions.NAME] of the config file, or an ARN (resolved as the server
    /// would, including [lambda] endpoint).
    pub name: String,

    /// The event: a JSON file, or - for standard input (see `cognate events`).
    #[arg(long, value_name = "FILE|-")]
    pub event: String,

    /// Configuration file declaring the function [default: ./cognate.toml].
    #[arg(long, env = "COGNATE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Region reported to the function (AWS_REGION) and used to sign Lambda calls.
    #[arg(long, env = "COGNATE_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Where the function's own Cognito calls go (AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER).
    #[arg(long, env = "COGNATE_URL", default_value = "http://127.0.0.1:9229")]
    pub url: String,

    /// Print one JSON object (response, error, cognitoError, logs, durationMs).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on: HOST:PORT (a host name or an IP) or a bare PORT.
    #[arg(long, env = "COGNATE_LISTEN", default_value = "127.0.0.1:9229", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// Folder for the embedded SQLite database and generated keys; created when missing.
    #[arg(long, env = "COGNATE_DATA_DIR", default_value = "./.cognate")]
    pub data_dir: PathBuf,

    /// Database to use instead of the embedded one: `sqlite:PATH` or `postgres://USER@HOST/DB`.
    /// Overrides --data-dir for the database. Several servers may share one PostgreSQL database.
    #[arg(long, env = "COGNATE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Configuration file declaring pools, clients and trigger functions
    /// [default: ./cognate.toml when it exists].
    #[arg(long, env = "COGNATE_CONFIG")]
    pub config: Option<PathBuf>,

    /// AWS region that pool ids and ARNs are minted in (a request signed for another region
    /// makes its pools there).
    #[arg(long, env = "COGNATE_REGION", default_value = "us-east-1")]
    pub region: String,

    /// The AWS account id in ARNs (pools, functions), 12 digits.
    #[arg(long, env = "COGNATE_ACCOUNT_ID", default_value = "000000000000", value_parser = account_id)]
    pub account_id: String,

    /// Base URL clients reach this server at; used for token issuers and discovery documents
    /// [default: http://<listen>].
    #[arg(long, env = "COGNATE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Key that seals password verifiers, signing keys and sessions (32 bytes, base64 or hex).
    /// Default: <data-dir>/master.key, generated on first start. Servers that share a
    /// database must share this key.
    #[arg(long, env = "COGNATE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Log lines as text (colours only on a terminal) or JSON objects. The level comes from
    /// RUST_LOG or COGNATE_LOG (default info; e.g. COGNATE_LOG=debug or =warn,cognate=info).
    #[arg(long, env = "COGNATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// dev: any credentials are accepted and the dev endpoints answer local tools only.
    /// secure: Admin and management operations, the Lambda API, KMS, SES / SNS capture and
    /// /_cognate/* need SigV4 signatures made with the config's [[access_keys]], and only
    /// [http] cors_origins get CORS headers.
    #[arg(long, env = "COGNATE_MODE", value_enum, default_value_t = Mode::Dev)]
    pub mode: Mode,
}

/// An AWS account id: 12 digits.
fn account_id(value: &str) -> Result<String, String> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err("an account id is 12 digits, e.g. 123456789012".into())
    }
}
