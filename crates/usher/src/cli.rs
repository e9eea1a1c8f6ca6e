//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// usher, the identity broker.
#[derive(Debug, Parser)]
#[command(name = "usher", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML). Without one, usher runs on defaults and `USHER_*`
    /// environment variables.
    #[arg(long, short, global = true, env = "USHER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format: human-readable, or one JSON object per line for log collectors.
    #[arg(long, global = true, env = "USHER_LOG_FORMAT", default_value = "human")]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Human,
    /// JSON lines for machines.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load and validate the configuration, print it with secrets redacted, and exit.
    CheckConfig,
    /// Manage local accounts.
    Users {
        /// What to do with users.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage the bearer tokens of SCIM clients (Entra ID, Okta, ...).
    ScimTokens {
        /// What to do with SCIM tokens.
        #[command(subcommand)]
        command: ScimTokensCommand,
    },
    /// Manage signing keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The provisioning report: every JIT decision of federated sign-ins
    /// (created, updated, linked, signed_in, denied and why), oldest first.
    Report {
        /// Only rows about this user (username or user id).
        #[arg(long)]
        user: Option<String>,
        /// Only rows about this upstream (its id).
        #[arg(long)]
        upstream: Option<String>,
        /// From this time on: RFC 3339 (2026-11-22T10:00:00Z), a date
        /// (2026-11-22, midnight UTC) or an age (30m, 24h, 7d).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Before this time (same forms as --since).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `usher scim-tokens ...`
#[derive(Debug, Subcommand)]
pub enum ScimTokensCommand {
    /// Create a client and print its token, once (only a digest is stored).
    Create {
        /// The client's name (its users and groups are its own).
        name: String,
    },
    /// List clients with when their tokens were created and last used.
    List,
    /// Delete a client's token at once; what it provisioned stays.
    Revoke {
        /// The client's name.
        name: String,
    },
}

/// `usher keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their status.
    List,
    /// Replace the active key of each algorithm (or of those given) with a new one.
    /// The previous key stays published until tokens it signed have expired.
    Rotate {
        /// Only these algorithms (RS256, ES256, EdDSA); default: all.
        #[arg(long = "algorithm", value_name = "ALG")]
        algorithms: Vec<String>,
    },
}

/// `usher users ...`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a local account.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Primary email address (taken as verified).
        #[arg(long)]
        email: Option<String>,
        /// Full name.
        #[arg(long)]
        display_name: Option<String>,
        /// Read a password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a local account's password, read from the first line of standard input.
    SetPassword {
        /// Login name.
        username: String,
    },
}
