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
    /// Outbound provisioning: test an app's connection, see its queue, retry,
    /// resynchronise.
    Provisioning {
        /// What to do.
        #[command(subcommand)]
        command: ProvisioningCommand,
    },
    /// The provisioning report, oldest first: inbound rows (every JIT decision of
    /// federated sign-ins: created, updated, linked, signed_in, denied and why)
    /// and outbound rows (every attempt to create, update, deactivate or delete an
    /// account or group in an app, with its result and the app's answer).
    Report {
        /// Only rows about this user (username, email or user id).
        #[arg(long)]
        user: Option<String>,
        /// Only inbound rows about this upstream (its id).
        #[arg(long)]
        upstream: Option<String>,
        /// Only outbound rows about this application (its name).
        #[arg(long)]
        app: Option<String>,
        /// Only rows of this direction.
        #[arg(long)]
        direction: Option<Direction>,
        /// Only rows with this result (inbound: created, updated, linked,
        /// signed_in, denied; outbound: success, no_change, retry, failed, skipped).
        #[arg(long)]
        result: Option<String>,
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
        /// Output format.
        #[arg(long, default_value = "table")]
        format: ReportFormat,
        /// Same as `--format json` (kept for scripts).
        #[arg(long, hide = true)]
        json: bool,
    },
}

/// Which side of usher a report row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Direction {
    /// Into usher: JIT at federated sign-in.
    Inbound,
    /// Out of usher: accounts and groups pushed into apps.
    Outbound,
}

/// How `usher report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Json,
    /// RFC 4180 CSV with a header row, for spreadsheets.
    Csv,
}

/// `usher provisioning ...`
#[derive(Debug, Subcommand)]
pub enum ProvisioningCommand {
    /// Check the app's connector: the target answers and accepts the credentials.
    /// Changes nothing.
    Test {
        /// The application's name.
        #[arg(long)]
        app: String,
    },
    /// Queued, in-flight and parked jobs, the last success and the last error,
    /// per app.
    Status {
        /// Only this application.
        #[arg(long)]
        app: Option<String>,
    },
    /// Run the app's waiting jobs now instead of at their backoff time.
    Retry {
        /// The application's name.
        #[arg(long)]
        app: String,
        /// Also give parked jobs a fresh set of attempts.
        #[arg(long)]
        parked: bool,
    },
    /// Recompute the desired state of everyone assigned to the app (and everyone
    /// it holds an account for) and push the differences.
    Sync {
        /// The application's name.
        #[arg(long)]
        app: String,
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
    /// Deactivate a user: end every session and refresh token, tell the OIDC apps
    /// (back-channel logout) and deprovision the account in every app. Durable:
    /// what cannot be done now is retried until it is.
    Deactivate {
        /// Login name.
        username: String,
    },
    /// Let a deactivated user back in; apps reactivate the same accounts.
    Reactivate {
        /// Login name.
        username: String,
    },
    /// The user's state in usher and in every app: account state, whether a
    /// change is still on its way, and how long the last one took to reach it.
    Status {
        /// Login name.
        username: String,
    },
}
