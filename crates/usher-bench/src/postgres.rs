//! A scratch PostgreSQL database for the scenarios that measure usher on PostgreSQL:
//! created fresh for the run (so every figure starts from the same empty schema)
//! and dropped afterwards.

use sea_orm::ConnectionTrait;

/// Where the bench creates its database unless `USHER_BENCH_POSTGRES_URL` says.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database `usher_bench_<pid>` on the server of the admin URL.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin: String,
    name: String,
    /// URL of the scratch database, for usher's `[database] url`.
    pub url: String,
}

impl ScratchDatabase {
    /// Creates the database (dropping a leftover of the same name from a killed run).
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("usher_bench_{}", std::process::id());
        let admin = connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url, String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        Ok(Self {
            url: format!("{server}/{name}{query}"),
            admin: admin_url.to_owned(),
            name,
        })
    }

    /// Drops the database, closing usher's connections if any are left.
    pub async fn drop_now(self) -> anyhow::Result<()> {
        connect(&self.admin)
            .await?
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

async fn connect(admin_url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    use anyhow::Context;
    let mut options = sea_orm::ConnectOptions::new(admin_url);
    options.sqlx_logging(false).max_connections(1);
    sea_orm::Database::connect(options).await.with_context(|| {
        format!(
            "cannot reach PostgreSQL at {} (set USHER_BENCH_POSTGRES_URL)",
            admin_url.split('@').next_back().unwrap_or(admin_url)
        )
    })
}
