//! Local accounts declared in the configuration file (`[[users]]`), brought in line
//! at every start: created when missing, password set when it changed, added to
//! their groups. Nothing is removed: deleting an account is an admin's decision,
//! not a side effect of editing a file. Every change is audited with the actor
//! [`ACTOR`] in the same transaction as the change; what is already in line
//! writes nothing.

use usher_core::ports::{Credentials, Directory};
use usher_core::{Email, GroupChange, NewGroup, NewUser, Result, User};
use usher_web::PasswordHasher;

use crate::config::{PasswordSource, UserConfig};

/// Who the audit log names for changes made from the configuration file.
pub const ACTOR: &str = "config";

/// Applies every `[[users]]` entry.
pub async fn sync(
    users: &[UserConfig],
    directory: &dyn Directory,
    credentials: &dyn Credentials,
    hasher: &PasswordHasher,
) -> Result<()> {
    for (i, declared) in users.iter().enumerate() {
        let user = match directory.find_user_by_username(&declared.username).await? {
            Some(user) => user,
            None => {
                let user = directory.provision_user(new_user(declared), ACTOR).await?;
                tracing::info!(username = %user.username, "created local account from configuration");
                user
            }
        };
        let source = declared
            .password_source(i)
            .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        set_password(&user, source, credentials, hasher).await?;
        for name in &declared.groups {
            match directory.find_group_by_name(name).await? {
                Some(group) => {
                    // Audited only when the user was not a member yet.
                    let change = GroupChange {
                        add: vec![user.id],
                        ..GroupChange::default()
                    };
                    directory
                        .change_group(group.id, change, None, ACTOR)
                        .await?;
                }
                None => {
                    directory
                        .provision_group(NewGroup::named(name.clone()), &[user.id], ACTOR)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

fn new_user(declared: &UserConfig) -> NewUser {
    NewUser {
        username: declared.username.clone(),
        // An admin wrote the address into the configuration: it counts as verified.
        emails: declared
            .email
            .iter()
            .map(|e| Email::new(e.clone(), true, true))
            .collect(),
        display_name: declared.display_name.clone(),
        given_name: declared.given_name.clone(),
        family_name: declared.family_name.clone(),
        active: true,
        ..NewUser::default()
    }
}

/// Stores the configured password unless the stored hash already matches it, so a
/// restart does not rehash (argon2 is slow on purpose) or churn the row.
async fn set_password(
    user: &User,
    source: Option<PasswordSource>,
    credentials: &dyn Credentials,
    hasher: &PasswordHasher,
) -> Result<()> {
    let stored = credentials.password_hash(user.id).await?;
    match source {
        None => Ok(()),
        Some(PasswordSource::Hash(hash)) => {
            if stored.as_deref() != Some(hash.expose()) {
                credentials
                    .set_password_hash_by(user.id, hash.expose(), ACTOR)
                    .await?;
            }
            Ok(())
        }
        Some(PasswordSource::Plain(password)) => {
            if let Some(stored) = stored
                && hasher.verify(&stored, password.expose()).await?
            {
                return Ok(());
            }
            let hash = hasher.hash(password.expose()).await?;
            credentials
                .set_password_hash_by(user.id, &hash, ACTOR)
                .await
        }
    }
}
