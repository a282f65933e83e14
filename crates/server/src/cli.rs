//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cognate",
    version,
    about = "The Amazon Cognito user-pool API and its Lambda triggers, in one binary.",
    long_about = "cognate speaks Amazon Cognito's user-pool API (cognito-idp) so that AWS SDKs, the AWS CLI, \
amazon-cognito-identity-js and pycognito work against it unchanged, and runs Cognito's Lambda triggers. \
Start it with `cognate serve` and point a client at http://127.0.0.1:9229."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (embedded SQLite in ./.cognate unless --database-url says otherwise).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "COGNATE_LISTEN", default_value = "127.0.0.1:9229")]
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

    /// AWS region that pool ids and ARNs are minted in.
    #[arg(long, env = "COGNATE_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Base URL clients reach this server at; used for token issuers and discovery documents
    /// [default: http://<listen>].
    #[arg(long, env = "COGNATE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Key that seals password verifiers, signing keys and sessions (32 bytes, base64 or hex).
    /// Default: <data-dir>/master.key, generated on first start. Servers that share a
    /// database must share this key.
    #[arg(long, env = "COGNATE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
}
