use std::io::BufRead;

use anyhow::Context;
use time::OffsetDateTime;
use usher_core::outbound::{JobState, ObjectRef};
use usher_core::ports::{Applications, Credentials, Directory, Jobs, RemoteObjects};
use usher_core::{Email, NewUser, User, UserUpdate};

use crate::backends;
use crate::cli::UsersCommand;
use crate::config::Config;

/// `usher users create|set-password|deactivate|reactivate|status`. Each change is audited with the CLI's
/// actor (`cli:<os user>`) in the same transaction as the change.
pub async fn run(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let store = backends::open_store(config).await?;
    let hasher = crate::frontends::hasher(config);
    let actor = super::actor::cli();
    match command {
        UsersCommand::Create {
            username,
            email,
            display_name,
            password_stdin,
        } => {
            // Read and hash first, so a bad password leaves no account behind.
            let hash = if password_stdin {
                Some(hasher.hash(&read_password()?).await?)
            } else {
                None
            };
            let new = NewUser {
                username,
                emails: email
                    .map(|e| Email::new(e, true, true))
                    .into_iter()
                    .collect(),
                display_name,
                active: true,
                ..NewUser::default()
            };
            let user = store.provision_user(new, &actor).await?;
            if let Some(hash) = hash {
                store.set_password_hash_by(user.id, &hash, &actor).await?;
            }
            println!("created user {} ({})", user.username, user.id);
        }
        UsersCommand::SetPassword { username } => {
            let user = store
                .find_user_by_username(&username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user named {username:?}"))?;
            let password = read_password()?;
            store
                .set_password_hash_by(user.id, &hasher.hash(&password).await?, &actor)
                .await?;
            println!("password set for {}", user.username);
        }
        UsersCommand::Deactivate { username } => {
            let user = find(&store, &username).await?;
            if !user.active {
                println!("{} is already deactivated", user.username);
                return Ok(());
            }
            set_active(&store, &user, false, &actor).await?;
            let apps = store.applications_of_user(user.id).await?.len();
            println!(
                "deactivated {}: a running usher ends the sessions and refresh tokens, tells the OIDC apps \
                 and deprovisions the accounts in {apps} app(s) within seconds; \
                 follow it with `usher users status {}`",
                user.username, user.username
            );
        }
        UsersCommand::Reactivate { username } => {
            let user = find(&store, &username).await?;
            if user.active {
                println!("{} is already active", user.username);
                return Ok(());
            }
            set_active(&store, &user, true, &actor).await?;
            println!(
                "reactivated {}: the apps it is assigned to reactivate the same accounts",
                user.username
            );
        }
        UsersCommand::Status { username } => {
            let user = find(&store, &username).await?;
            print_status(&store, &user).await?;
        }
    }
    Ok(())
}

async fn find(store: &usher_store::SqlStore, username: &str) -> anyhow::Result<User> {
    store
        .find_user_by_username(username)
        .await?
        .with_context(|| {
            format!("no user named {username:?} (`usher report --user` also takes an email)")
        })
}

/// The leaver's (or returner's) one durable step: the flag and its outbox event,
/// audited, in one transaction. Everything else follows from the event.
async fn set_active(
    store: &usher_store::SqlStore,
    user: &User,
    active: bool,
    actor: &str,
) -> anyhow::Result<()> {
    let update = UserUpdate {
        active: Some(active),
        ..UserUpdate::default()
    };
    store
        .replace_user(user.id, update, Some(user.version), actor)
        .await
        .context("the user changed meanwhile; run the command again")?;
    Ok(())
}

/// `usher users status NAME`: per app, the account's state there, whether a change
/// is still on its way, and how long the last change took to be acknowledged.
async fn print_status(store: &usher_store::SqlStore, user: &User) -> anyhow::Result<()> {
    println!(
        "{} ({}) is {} in usher",
        user.username,
        user.id,
        if user.active { "active" } else { "deactivated" }
    );
    let mut apps = store.applications_of_user(user.id).await?;
    let remotes = store.remote_objects_of_user(user.id).await?;
    for r in &remotes {
        if !apps.contains(&r.app) {
            apps.push(r.app);
        }
    }
    let jobs = store.jobs_of(ObjectRef::User(user.id)).await?;
    if apps.is_empty() && jobs.is_empty() {
        println!("no application is assigned to this user or holds an account for it");
        return Ok(());
    }
    println!(
        "{:<20} {:<12} {:<12} {:<14} WAITING / LAST ERROR",
        "APP", "ASSIGNED", "ACCOUNT", "LAST CHANGE"
    );
    for app_id in apps {
        let app = store.get_application(app_id).await?;
        let assigned = store.is_assigned(app_id, user.id).await?;
        let remote = remotes.iter().find(|r| r.app == app_id);
        let job = jobs.iter().find(|j| j.app == app_id);
        let account = remote.map_or("none", |r| r.state.as_str());
        let took = remote.map_or_else(
            || "-".to_owned(),
            |r| format_took(r.acknowledged_at - r.changed_at),
        );
        let waiting = match job {
            None => "in sync".to_owned(),
            Some(j) => {
                let age = format_took(OffsetDateTime::now_utc() - j.changed_at);
                let state = match j.state {
                    JobState::Pending => "queued",
                    JobState::InFlight => "sending",
                    JobState::Parked => "PARKED",
                };
                match &j.last_error {
                    Some(e) => format!("{state} for {age}, attempt {}: {e}", j.attempts),
                    None => format!("{state} for {age}"),
                }
            }
        };
        println!(
            "{:<20} {:<12} {account:<12} {took:<14} {waiting}",
            app.spec.name(),
            if assigned { "yes" } else { "no" },
        );
    }
    Ok(())
}

/// `850 ms`, `4.2 s`, `3 min`.
fn format_took(d: time::Duration) -> String {
    let ms = d.whole_milliseconds().max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else {
        format!("{} min", ms / 60_000)
    }
}

/// The first line of standard input: scripts pipe it in, so it never appears in
/// the process list or shell history.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    anyhow::ensure!(password.len() <= 1024, "password longer than 1024 bytes");
    Ok(password)
}
