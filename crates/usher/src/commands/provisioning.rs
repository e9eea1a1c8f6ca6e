//! `usher provisioning test|status|retry|sync`: the first commands an
//! administrator runs after setting an app up, and when something is stuck.

use anyhow::{Context, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use usher_core::Application;
use usher_core::outbound::{AttemptQuery, AttemptResult};
use usher_core::ports::{Applications, Jobs, RemoteObjects};
use usher_provisioning::{ConnectorSource, RegistrySource};

use crate::backends;
use crate::cli::ProvisioningCommand;
use crate::config::Config;

/// Runs one `usher provisioning` command.
pub async fn run(config: &Config, command: ProvisioningCommand) -> anyhow::Result<()> {
    let store = backends::open_store(config).await?;
    match command {
        ProvisioningCommand::Test { app } => {
            let app = provisioned_app(&store, &app).await?;
            let connector = RegistrySource::new(crate::connectors::registry()?)
                .connector(&app)
                .map_err(|e| anyhow::anyhow!("{}: {e}", app.spec.name()))?;
            match connector.test_connection().await {
                Ok(()) => println!(
                    "{}: the target answers and accepts the credentials",
                    app.spec.name()
                ),
                Err(e) => bail!("{}: {e}", app.spec.name()),
            }
        }
        ProvisioningCommand::Status { app } => {
            let apps = match app {
                Some(name) => vec![provisioned_app(&store, &name).await?],
                None => store
                    .list_applications()
                    .await?
                    .into_iter()
                    .filter(|a| a.spec.provisioning().is_some())
                    .collect(),
            };
            if apps.is_empty() {
                println!("no application has a provisioning side ([apps.provisioning])");
            }
            for app in apps {
                print_status(&store, &app).await?;
            }
        }
        ProvisioningCommand::Retry { app, parked } => {
            let app = provisioned_app(&store, &app).await?;
            let n = store.retry_now(app.id, parked).await?;
            println!(
                "{}: {n} job(s) due now; a running usher sends them within a second",
                app.spec.name()
            );
        }
        ProvisioningCommand::Sync { app } => {
            let app = provisioned_app(&store, &app).await?;
            let n = crate::provisioning::sync_app(&store, &app).await?;
            println!(
                "{}: {n} account(s) and group(s) queued for comparison; a running usher pushes the differences",
                app.spec.name()
            );
        }
    }
    Ok(())
}

async fn provisioned_app(store: &usher_store::SqlStore, name: &str) -> anyhow::Result<Application> {
    let app = store
        .find_application_by_name(name)
        .await?
        .with_context(|| {
            format!("--app: no application named {name:?} (see [[apps]] in the configuration)")
        })?;
    if app.spec.provisioning().is_none() {
        bail!("--app {name}: this application has no provisioning side ([apps.provisioning])");
    }
    Ok(app)
}

async fn print_status(store: &usher_store::SqlStore, app: &Application) -> anyhow::Result<()> {
    let status = store.status(app.id).await?;
    let latest = |result| AttemptQuery {
        app: Some(app.id),
        result: Some(result),
        newest_first: true,
        limit: 1,
        ..AttemptQuery::default()
    };
    let success = store.attempts(&latest(AttemptResult::Success)).await?;
    let mut errors = store.attempts(&latest(AttemptResult::Retry)).await?;
    errors.extend(store.attempts(&latest(AttemptResult::Failed)).await?);
    errors.sort_by_key(|e| std::cmp::Reverse(e.at));
    let side = app
        .spec
        .provisioning()
        .map(|p| p.connector.as_str())
        .unwrap_or("-");
    let mode = if app.provisions() { "on" } else { "off" };
    println!("{} ({side}, provisioning {mode})", app.spec.name());
    println!(
        "  queued {}, in flight {}, parked {}",
        status.pending, status.in_flight, status.parked
    );
    if let Some(oldest) = status.oldest_change {
        println!("  oldest waiting change: {}", when(oldest));
    }
    match success.first() {
        Some(s) => println!(
            "  last success: {} ({} {})",
            when(s.at),
            s.attempt.operation,
            s.attempt.label
        ),
        None => println!("  last success: never"),
    }
    if let Some(e) = errors.first()
        && success.first().is_none_or(|s| s.at <= e.at)
    {
        let code = e
            .attempt
            .remote_code
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        println!(
            "  last error: {} {} {}{code}: {}",
            when(e.at),
            e.attempt.operation,
            e.attempt.label,
            e.attempt.message.as_deref().unwrap_or("")
        );
    }
    if status.parked > 0 {
        println!(
            "  {} parked job(s) wait for you: fix the cause, then `usher provisioning retry --app {} --parked`",
            status.parked,
            app.spec.name()
        );
    }
    Ok(())
}

fn when(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
