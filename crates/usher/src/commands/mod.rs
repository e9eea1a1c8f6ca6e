//! The subcommands.

mod actor;
mod check_config;
mod keys;
mod migrate;
mod provisioning;
mod report;
mod scim_tokens;
mod serve;
mod users;

use crate::cli::{Cli, Command, ReportFormat};
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
        Command::Provisioning { command } => provisioning::run(&config, command).await,
        Command::Report {
            user,
            upstream,
            app,
            direction,
            result,
            since,
            until,
            limit,
            format,
            json,
        } => {
            let filter = report::Filter {
                user,
                upstream,
                app,
                direction,
                result,
                since,
                until,
                limit,
            };
            let format = if json { ReportFormat::Json } else { format };
            report::run(&config, filter, format).await
        }
        Command::ScimTokens { command } => scim_tokens::run(&config, command).await,
    }
}
