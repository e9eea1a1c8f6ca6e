use std::io::BufRead;

use usher_core::ports::{Credentials, Directory};
use usher_core::{Email, NewUser};

use crate::backends;
use crate::cli::UsersCommand;
use crate::config::Config;

/// `usher users create|set-password`. Each change is audited with the CLI's
/// actor (`cli:<os user>`) in the same transaction as the change.
pub async fn run(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let database = backends::open_database(config).await?;
    let store = database.store();
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
    }
    Ok(())
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
