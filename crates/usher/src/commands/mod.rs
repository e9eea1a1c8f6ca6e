//! The subcommands.

mod actor;
mod check_config;
mod keys;
mod migrate;
mod report;
mod scim_tokens;
mod serve;
mod users;

use crate::cli::{Cli, Command};
use crate::config;

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Migrate => migrate::run(&config).await,
        Command::CheckConfig => check_config::run(&config, cli.config.as_deref()),
        Command::Users { command } => users::run(&config, command).await,
        Command::Keys { command } => keys::run(&config, command).await,
        Command::Report {
            user,
            upstream,
            since,
            until,
            limit,
            json,
        } => {
            let filter = report::Filter {
                user,
                upstream,
                since,
                until,
                limit,
            };
            report::run(&config, filter, json).await
        }
        Command::ScimTokens { command } => scim_tokens::run(&config, command).await,
    }
}
