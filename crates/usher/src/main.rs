//! usher, the identity broker: the binary. It reads configuration, picks the
//! implementations of the core's ports, and runs the HTTP server and the CLI.

mod accounts;
mod apps;
mod backends;
mod cli;
mod commands;
mod config;
mod connectors;
mod frontends;
mod logging;
mod master_key;
mod metadata_refresh;
mod provisioning;
mod purge;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let format = cli.log_format;
    logging::init(format);
    match actix_web::rt::System::new().block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match format {
                cli::LogFormat::Human => eprintln!("error: {error:#}"),
                cli::LogFormat::Json => {
                    tracing::error!(error = format!("{error:#}"), "usher failed")
                }
            }
            ExitCode::FAILURE
        }
    }
}
