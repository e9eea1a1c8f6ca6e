//! `usher report`: the provisioning report from the command line.

use anyhow::{Context, bail};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use usher_core::jit::ReportQuery;
use usher_core::ports::{Directory, ProvisioningReport};
use usher_core::{UpstreamId, UserId};

use crate::backends;
use crate::config::Config;

/// What to select.
#[derive(Debug)]
pub struct Filter {
    pub user: Option<String>,
    pub upstream: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: u32,
}

/// RFC 3339, a date (midnight UTC) or an age before `now` (`30m`, `24h`, `7d`).
fn parse_time(flag: &str, text: &str, now: OffsetDateTime) -> anyhow::Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    if let Ok(d) = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        return Ok(d.midnight().assume_utc());
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().ok().filter(|n| *n >= 0).with_context(|| {
        format!("{flag} {text:?}: expected RFC 3339 (2026-11-22T10:00:00Z), a date (2026-11-22) or an age (30m, 24h, 7d)")
    })?;
    let age = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => bail!("{flag} {text:?}: an age ends in m, h or d (30m, 24h, 7d)"),
    };
    Ok(now - age)
}

/// `usher report`.
pub async fn run(config: &Config, filter: Filter, json: bool) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let since = filter
        .since
        .as_deref()
        .map(|t| parse_time("--since", t, now))
        .transpose()?;
    let until = filter
        .until
        .as_deref()
        .map(|t| parse_time("--until", t, now))
        .transpose()?;
    let upstream = filter
        .upstream
        .as_deref()
        .map(UpstreamId::parse)
        .transpose()
        .context("--upstream")?;
    let database = backends::open_database(config).await?;
    let store = database.store();
    let user = match filter.user.as_deref() {
        None => None,
        Some(name) => match uuid::Uuid::parse_str(name) {
            Ok(id) => Some(UserId(id)),
            Err(_) => Some(
                store
                    .find_user_by_username(name)
                    .await?
                    .with_context(|| format!("no user named {name:?}"))?
                    .id,
            ),
        },
    };
    let rows = store
        .query(&ReportQuery {
            user,
            upstream,
            since,
            until,
            limit: filter.limit,
        })
        .await?;
    if json {
        for row in &rows {
            println!("{}", serde_json::to_string(row)?);
        }
        return Ok(());
    }
    if rows.is_empty() {
        println!("no provisioning decisions match");
        return Ok(());
    }
    println!(
        "{:<21} {:<16} {:<10} {:<38} {:<16} {:<24} REASON",
        "TIME", "UPSTREAM", "DECISION", "USER", "CLIENT IP", "SUBJECT"
    );
    for r in rows {
        let at = r.at.format(&Rfc3339).unwrap_or_else(|_| r.at.to_string());
        let subject: String = r.subject.chars().take(24).collect();
        println!(
            "{at:<21} {:<16} {:<10} {:<38} {:<16} {subject:<24} {}",
            r.upstream.as_str(),
            r.outcome.as_str(),
            r.user_id.map_or_else(|| "-".to_owned(), |u| u.to_string()),
            r.client_ip.as_deref().unwrap_or("-"),
            r.reason.as_deref().unwrap_or(""),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("t");
        assert_eq!(
            parse_time("--since", "24h", now).expect("age"),
            now - Duration::hours(24)
        );
        assert_eq!(
            parse_time("--since", "2026-11-22", now)
                .expect("date")
                .unix_timestamp(),
            1_795_305_600
        );
        assert!(parse_time("--since", "2026-11-22T10:00:00Z", now).is_ok());
        assert!(parse_time("--since", "yesterday", now).is_err());
        assert!(parse_time("--since", "-5h", now).is_err());
    }
}
