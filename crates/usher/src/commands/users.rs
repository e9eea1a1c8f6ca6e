use std::io::BufRead;

use usher_core::ports::{Credentials, Directory};
use usher_core::{Email, NewUser};

use crate::backends;
use crate::cli::UsersCommand;
use crate::config::Config;

/// `usher users create|set-password`.
pub async fn run(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let database = backends::open_database(config).await?;
    let store = database.store();
    let hasher = crate::frontends::hasher(config);
    match command {
        UsersCommand::Create {
            username,
            email,
            display_name,
            password_stdin,
        } => {
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
            let user = store.create_user(new).await?;
            if password_stdin {
                let password = read_password()?;
                store
                    .set_password_hash(user.id, &hasher.hash(&password).await?)
                    .await?;
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
                .set_password_hash(user.id, &hasher.hash(&password).await?)
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
