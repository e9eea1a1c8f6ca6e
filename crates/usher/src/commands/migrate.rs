use crate::backends;
use crate::config::Config;

/// `usher migrate`: applies pending migrations (also done by `serve` at start).
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let database = backends::open_database(config).await?;
    println!(
        "database schema is up to date ({})",
        database.backend_name()
    );
    Ok(())
}
