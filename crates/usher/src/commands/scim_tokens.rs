//! `usher scim-tokens create NAME | list | revoke NAME`.

use usher_core::ports::ScimClients;

use crate::backends;
use crate::cli::ScimTokensCommand;
use crate::config::Config;

/// Runs a `scim-tokens` subcommand against the configured database. Creating and
/// revoking are audited with the CLI's actor in the same transaction.
pub async fn run(config: &Config, command: ScimTokensCommand) -> anyhow::Result<()> {
    let store = backends::open_database(config).await?.store();
    let actor = super::actor::cli();
    match command {
        ScimTokensCommand::Create { name } => {
            let token = usher_core::random::token()?;
            store
                .create_scim_client_by(&name, &usher_core::random::digest(&token), &actor)
                .await
                .map_err(|e| match e {
                    usher_core::Error::Conflict(_) => anyhow::anyhow!(
                        "a SCIM client named {name:?} exists; revoke it first to replace its token"
                    ),
                    other => other.into(),
                })?;
            println!("{token}");
            eprintln!(
                "SCIM client {name:?} created. The token above is shown once and stored only as a \
                 digest: configure it in the client now (base URL: {}/scim/v2).",
                config.server.public_url.trim_end_matches('/')
            );
        }
        ScimTokensCommand::List => {
            println!("{:<24} {:<8} {:<22} LAST USED", "NAME", "SOURCE", "CREATED");
            for c in store.scim_clients().await? {
                println!(
                    "{:<24} {:<8} {:<22} {}",
                    c.name,
                    if c.from_config { "config" } else { "cli" },
                    format_time(c.created_at),
                    c.last_used_at
                        .map_or_else(|| "never".to_owned(), format_time)
                );
            }
        }
        ScimTokensCommand::Revoke { name } => {
            if !store.revoke_scim_client_by(&name, &actor).await? {
                anyhow::bail!("no SCIM client is named {name:?} (see `usher scim-tokens list`)");
            }
            println!(
                "revoked {name:?}: its token no longer works; the users and groups it provisioned stay"
            );
        }
    }
    Ok(())
}

fn format_time(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
