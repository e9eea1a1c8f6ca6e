use std::sync::Arc;

use usher_core::NewAuditEntry;
use usher_core::ports::{AuditLog, KeyAlgorithm, KeyStatus};

use crate::backends;
use crate::cli::KeysCommand;
use crate::config::Config;
use crate::master_key;

/// `usher keys list|rotate`.
pub async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let master = master_key::resolve(config)?;
    let database = backends::open_database(config).await?;
    let ring = backends::key_ring(config, Arc::new(database.key_store(master)));
    match command {
        KeysCommand::List => {
            let keys = ring.keys().await?;
            if keys.is_empty() {
                println!("no signing keys yet: they are generated when `usher serve` first starts");
            }
            println!(
                "{:<44} {:<6} {:<9} {:<22} PUBLISHED UNTIL",
                "KID", "ALG", "STATUS", "CREATED"
            );
            for (key, status) in keys {
                let status = match status {
                    KeyStatus::Active => "active",
                    KeyStatus::Published => "published",
                    KeyStatus::Expired => "expired",
                };
                let until = key
                    .publish_until
                    .map_or_else(|| "-".to_owned(), format_time);
                println!(
                    "{:<44} {:<6} {:<9} {:<22} {until}",
                    key.kid,
                    key.algorithm.as_str(),
                    status,
                    format_time(key.created_at)
                );
            }
        }
        KeysCommand::Rotate { algorithms } => {
            let algorithms = parse_algorithms(&algorithms)?;
            let audit = database.store();
            for rotation in ring.rotate(&algorithms).await? {
                println!(
                    "{}: new active key {}{}",
                    rotation.algorithm,
                    rotation.activated,
                    rotation
                        .retired
                        .as_ref()
                        .map_or_else(String::new, |old| format!(
                            "; {old} stays published until {}",
                            format_time(rotation.publish_until)
                        ))
                );
                audit
                    .record(NewAuditEntry {
                        actor: super::actor::cli(),
                        action: "keys.rotate".into(),
                        target: Some(rotation.activated.clone()),
                        details: serde_json::json!({
                            "algorithm": rotation.algorithm.as_str(),
                            "retired": rotation.retired,
                        }),
                    })
                    .await?;
            }
            println!(
                "running instances pick up the new keys within a minute (they re-read the key store \
                 every 60 s); the previous keys stay in the JWKS and metadata meanwhile"
            );
        }
    }
    Ok(())
}

fn parse_algorithms(names: &[String]) -> anyhow::Result<Vec<KeyAlgorithm>> {
    if names.is_empty() {
        return Ok(KeyAlgorithm::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            KeyAlgorithm::parse(n).ok_or_else(|| {
                anyhow::anyhow!("unknown algorithm {n:?}: expected RS256, ES256 or EdDSA")
            })
        })
        .collect()
}

fn format_time(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
