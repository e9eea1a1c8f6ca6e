//! `usher report`: the provisioning report from the command line, inbound (JIT
//! decisions) and outbound (attempts in apps) in one time-ordered list.

use anyhow::{Context, bail};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use usher_core::jit::{ReportEntry, ReportQuery};
use usher_core::outbound::{AttemptEntry, AttemptQuery, AttemptResult, ObjectRef};
use usher_core::ports::{Applications, Directory, ProvisioningReport, RemoteObjects};
use usher_core::{UpstreamId, UserId};

use crate::backends;
use crate::cli::{Direction, ReportFormat};
use crate::config::Config;

/// What to select.
#[derive(Debug)]
pub struct Filter {
    pub user: Option<String>,
    pub upstream: Option<String>,
    pub app: Option<String>,
    pub direction: Option<Direction>,
    pub result: Option<String>,
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
pub async fn run(config: &Config, filter: Filter, format: ReportFormat) -> anyhow::Result<()> {
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
    // An app is outbound only, an upstream inbound only.
    let direction = match (filter.direction, &filter.app, &upstream) {
        (_, Some(_), Some(_)) => {
            bail!("--app and --upstream select different directions; give one")
        }
        (Some(Direction::Inbound), Some(_), _) => {
            bail!("--app selects outbound rows; drop --direction inbound")
        }
        (Some(Direction::Outbound), _, Some(_)) => {
            bail!("--upstream selects inbound rows; drop --direction outbound")
        }
        (d, Some(_), _) => d.or(Some(Direction::Outbound)),
        (d, _, Some(_)) => d.or(Some(Direction::Inbound)),
        (d, None, None) => d,
    };
    let store = backends::open_store(config).await?;
    let user = match filter.user.as_deref() {
        None => None,
        Some(who) => Some(resolve_user(&store, who).await?),
    };
    let app = match filter.app.as_deref() {
        None => None,
        Some(name) => Some(
            store
                .find_application_by_name(name)
                .await?
                .with_context(|| {
                    format!(
                        "--app: no application named {name:?} (see [[apps]] in the configuration)"
                    )
                })?,
        ),
    };
    let mut rows = Vec::new();
    if direction != Some(Direction::Outbound) {
        let outcome = match filter.result.as_deref() {
            None => None,
            Some(r) => match usher_core::jit::JitOutcome::parse(r) {
                Some(o) => Some(o),
                None if direction == Some(Direction::Inbound) => bail!(
                    "--result {r:?}: inbound results are created, updated, linked, signed_in, denied"
                ),
                None => None,
            },
        };
        if filter.result.is_none() || outcome.is_some() {
            let inbound = store
                .query(&ReportQuery {
                    user,
                    upstream,
                    since,
                    until,
                    limit: filter.limit,
                })
                .await?;
            rows.extend(
                inbound
                    .into_iter()
                    .filter(|r| outcome.is_none_or(|o| r.outcome == o))
                    .map(Row::inbound),
            );
        }
    }
    if direction != Some(Direction::Inbound) {
        let result = match filter.result.as_deref() {
            None => None,
            Some(r) => match AttemptResult::parse(r) {
                Some(a) => Some(a),
                None if direction == Some(Direction::Outbound) => bail!(
                    "--result {r:?}: outbound results are success, no_change, retry, failed, skipped"
                ),
                None => None,
            },
        };
        if filter.result.is_none() || result.is_some() {
            let outbound = store
                .attempts(&AttemptQuery {
                    object: user.map(ObjectRef::User),
                    app: app.as_ref().map(|a| a.id),
                    result,
                    since,
                    until,
                    newest_first: false,
                    limit: filter.limit,
                })
                .await?;
            let names = app_names(&store).await?;
            rows.extend(outbound.into_iter().map(|a| Row::outbound(a, &names)));
        }
    }
    rows.sort_by_key(|r| r.at);
    rows.truncate(filter.limit as usize);
    print_rows(&rows, format)
}

/// A username, an email address or a user id.
async fn resolve_user(store: &usher_store::SqlStore, who: &str) -> anyhow::Result<UserId> {
    if let Ok(id) = uuid::Uuid::parse_str(who) {
        return Ok(UserId(id));
    }
    if let Some(user) = store.find_user_by_username(who).await? {
        return Ok(user.id);
    }
    if who.contains('@')
        && let Some(user) = store.find_user_by_email(who).await?
    {
        return Ok(user.id);
    }
    bail!("--user: no user has the username or email {who:?}")
}

async fn app_names(
    store: &usher_store::SqlStore,
) -> anyhow::Result<std::collections::HashMap<usher_core::ApplicationId, String>> {
    Ok(store
        .list_applications()
        .await?
        .into_iter()
        .map(|a| (a.id, a.spec.name().to_owned()))
        .collect())
}

/// One report line, whichever direction.
#[derive(Debug, serde::Serialize)]
struct Row {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    direction: &'static str,
    /// The upstream (inbound) or the application (outbound).
    source: String,
    /// The user id, or the object outbound (user or group id).
    object: String,
    /// Who, in words: the upstream subject, or the username or group name.
    name: String,
    /// The JIT decision, or the outbound operation.
    operation: String,
    result: String,
    remote_code: Option<String>,
    http_status: Option<u16>,
    duration_ms: Option<u64>,
    attempt: Option<u32>,
    client_ip: Option<String>,
    message: String,
}

impl Row {
    fn inbound(r: ReportEntry) -> Self {
        Row {
            at: r.at,
            direction: "inbound",
            source: r.upstream.as_str().to_owned(),
            object: r.user_id.map_or_else(String::new, |u| u.to_string()),
            name: r.subject,
            operation: "jit".into(),
            result: r.outcome.as_str().to_owned(),
            remote_code: None,
            http_status: None,
            duration_ms: None,
            attempt: None,
            client_ip: r.client_ip,
            message: r.reason.unwrap_or_default(),
        }
    }

    fn outbound(
        a: AttemptEntry,
        names: &std::collections::HashMap<usher_core::ApplicationId, String>,
    ) -> Self {
        let at = a.at;
        let a = a.attempt;
        Row {
            at,
            direction: "outbound",
            source: names
                .get(&a.app)
                .cloned()
                .unwrap_or_else(|| a.app.to_string()),
            object: a.object.to_string(),
            name: a.label,
            operation: a.operation,
            result: a.result.as_str().to_owned(),
            remote_code: a.remote_code,
            http_status: a.http_status,
            duration_ms: Some(a.duration_ms),
            attempt: Some(a.attempt),
            client_ip: None,
            message: a.message.unwrap_or_default(),
        }
    }

    fn cells(&self) -> [String; 13] {
        let opt = |v: Option<String>| v.unwrap_or_default();
        [
            self.at
                .format(&Rfc3339)
                .unwrap_or_else(|_| self.at.to_string()),
            self.direction.to_owned(),
            self.source.clone(),
            self.object.clone(),
            self.name.clone(),
            self.operation.clone(),
            self.result.clone(),
            opt(self.remote_code.clone()),
            opt(self.http_status.map(|s| s.to_string())),
            opt(self.duration_ms.map(|s| s.to_string())),
            opt(self.attempt.map(|s| s.to_string())),
            opt(self.client_ip.clone()),
            self.message.clone(),
        ]
    }
}

const HEADER: [&str; 13] = [
    "time",
    "direction",
    "source",
    "object",
    "name",
    "operation",
    "result",
    "remote_code",
    "http_status",
    "duration_ms",
    "attempt",
    "client_ip",
    "message",
];

fn print_rows(rows: &[Row], format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Json => {
            for row in rows {
                println!("{}", serde_json::to_string(row)?);
            }
        }
        ReportFormat::Csv => {
            println!("{}", csv_line(HEADER.iter().map(|h| (*h).to_owned())));
            for row in rows {
                println!("{}", csv_line(row.cells().into_iter()));
            }
        }
        ReportFormat::Table => {
            if rows.is_empty() {
                println!("no provisioning rows match");
                return Ok(());
            }
            println!(
                "{:<21} {:<9} {:<16} {:<24} {:<10} {:<10} {:<6} MESSAGE",
                "TIME", "DIR", "SOURCE", "NAME", "OPERATION", "RESULT", "HTTP"
            );
            for r in rows {
                let c = r.cells();
                let name: String = r.name.chars().take(24).collect();
                let source: String = r.source.chars().take(16).collect();
                let code = r
                    .remote_code
                    .as_deref()
                    .map(|c| format!("[{c}] "))
                    .unwrap_or_default();
                println!(
                    "{:<21} {:<9} {source:<16} {name:<24} {:<10} {:<10} {:<6} {code}{}",
                    c[0], r.direction, r.operation, r.result, c[8], r.message
                );
            }
        }
    }
    Ok(())
}

/// One RFC 4180 line. A cell that a spreadsheet would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, tab or CR: "CSV injection", OWASP) is prefixed with
/// `'`, since names and messages come from upstreams and apps.
fn csv_line(cells: impl Iterator<Item = String>) -> String {
    cells
        .map(|cell| {
            let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{cell}")
            } else {
                cell
            };
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell
            }
        })
        .collect::<Vec<_>>()
        .join(",")
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

    #[test]
    fn csv_quotes_per_rfc_4180_and_defuses_formulas() {
        let line = csv_line(
            [
                "plain",
                "a,b",
                "say \"hi\"",
                "two\nlines",
                "=HYPERLINK(\"x\")",
                "-1",
            ]
            .into_iter()
            .map(str::to_owned),
        );
        assert_eq!(
            line,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"'=HYPERLINK(\"\"x\"\")\",'-1"
        );
    }
}
