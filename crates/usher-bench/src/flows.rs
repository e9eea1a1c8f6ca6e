//! The request sequences a scenario repeats, as a real client or browser sends them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::server::{PASSWORD, REDIRECT_URI, SECRET, USERNAME, Usher};

/// What one iteration does.
#[derive(Debug, Clone)]
pub enum Flow {
    /// One client_credentials grant for the client signing with this algorithm.
    ClientCredentials(String),
    /// authorize -> login page -> password POST -> code -> token, fresh browser each time.
    PasswordLogin,
    /// One SP-initiated AuthnRequest (HTTP-Redirect) from a browser that already has
    /// an SSO session (this `Cookie` header), answered with a signed Response.
    SamlSso(String),
    /// One SCIM `POST /scim/v2/Users` with this bearer token, a new user each time
    /// (unique userName, email and externalId), as Entra ID provisions one.
    ScimCreate(String),
}

/// What a run measured: the time of every successful iteration, and the failed ones.
#[derive(Debug, Default)]
pub struct Run {
    /// Time of each iteration that succeeded.
    pub latencies: Vec<Duration>,
    /// How many iterations failed (an unexpected status, a connection error).
    pub errors: usize,
    /// The first few distinct failure messages.
    pub samples: Vec<String>,
}

impl Run {
    fn failed(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        let message = format!("{error:#}");
        if self.samples.len() < 5 && !self.samples.contains(&message) {
            self.samples.push(message);
        }
    }

    fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        for message in other.samples {
            if self.samples.len() < 5 && !self.samples.contains(&message) {
                self.samples.push(message);
            }
        }
    }
}

/// Runs `flow` from `concurrency` tasks for `duration`; returns each successful
/// iteration's time and the failures.
pub async fn drive(
    server: &Usher,
    flow: &Flow,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let base: Arc<str> = server.base.clone().into();
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, base, flow) = (client.clone(), base.clone(), flow.clone());
        tasks.spawn(async move {
            let mut run = Run::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                let done = match &flow {
                    Flow::ClientCredentials(alg) => client_credentials(&client, &base, alg).await,
                    Flow::PasswordLogin => password_login(&client, &base).await,
                    Flow::SamlSso(cookie) => saml_sso(&client, &base, cookie).await,
                    Flow::ScimCreate(token) => scim_create(&client, &base, token).await,
                };
                match done {
                    Ok(()) => run.latencies.push(started.elapsed()),
                    Err(e) => run.failed(&e),
                }
            }
            run
        });
    }
    let mut all = Run::default();
    while let Some(result) = tasks.join_next().await {
        all.merge(result?);
    }
    Ok(all)
}

async fn client_credentials(client: &reqwest::Client, base: &str, alg: &str) -> anyhow::Result<()> {
    let res = client
        .post(format!("{base}/oidc/token"))
        .basic_auth(format!("cc-{alg}"), Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await?;
    if !status.is_success() || !body.contains("access_token") {
        bail!("token endpoint answered {status}: {body}");
    }
    Ok(())
}

/// A browser's cookie jar, as small as a benchmark needs.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn take(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let raw = value.to_str().unwrap_or_default();
            let pair = raw.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn location(res: &reqwest::Response) -> anyhow::Result<String> {
    let status = res.status();
    res.headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
        .with_context(|| format!("expected a redirect, got {status}"))
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_owned()
    }
}

/// The value of the first `marker"...` attribute in `html`, unescaped.
pub(crate) fn attribute(html: &str, marker: &str) -> anyhow::Result<String> {
    let (_, rest) = html
        .split_once(marker)
        .with_context(|| format!("{marker} not in page"))?;
    let (value, _) = rest.split_once('"').context("unterminated attribute")?;
    Ok(value
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/"))
}

async fn password_login(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let mut jar = Jar::default();
    let verifier = usher_core::random::token()?;
    let challenge = usher_core::random::digest(&verifier);
    let authorize = client
        .get(format!("{base}/oidc/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "login"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile"),
            ("state", "bench"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await?;
    let login_url = absolute(base, &location(&authorize)?);
    let page = client.get(&login_url).send().await?;
    jar.take(&page);
    let html = page.text().await?;
    let csrf = attribute(&html, r#"name="csrf" value=""#)?;
    let t = attribute(&html, r#"name="t" value=""#)?;
    let posted = client
        .post(format!("{base}/login"))
        .header(COOKIE, jar.header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("t", t.as_str()),
            ("username", USERNAME),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    jar.take(&posted);
    let mut next = absolute(base, &location(&posted)?);
    // Pages hand the browser back through /continue (a navigation, not a form
    // redirect, so the login page's CSP form-action does not apply to the app).
    if next.contains("/continue") {
        let page = client
            .get(&next)
            .header(COOKIE, jar.header())
            .send()
            .await?;
        next = absolute(
            base,
            &attribute(
                &page.text().await?,
                r#"id="continue" class="button" href=""#,
            )?,
        );
    }
    let resumed = client
        .get(&next)
        .header(COOKIE, jar.header())
        .send()
        .await?;
    let callback = location(&resumed)?;
    let code = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .with_context(|| format!("no code in {callback}"))?;
    let token = client
        .post(format!("{base}/oidc/token"))
        .basic_auth("login", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await?;
    let status = token.status();
    let body = token.text().await?;
    if !status.is_success() || !body.contains("id_token") {
        bail!("token endpoint answered {status}: {body}");
    }
    Ok(())
}

/// Signs in once at `/login` and returns the browser's `Cookie` header.
pub async fn signed_in(base: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()?;
    let mut jar = Jar::default();
    let page = client.get(format!("{base}/login")).send().await?;
    jar.take(&page);
    let csrf = attribute(&page.text().await?, r#"name="csrf" value=""#)?;
    let posted = client
        .post(format!("{base}/login"))
        .header(COOKIE, jar.header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", USERNAME),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    jar.take(&posted);
    anyhow::ensure!(
        posted.status().is_redirection(),
        "sign-in failed: {}",
        posted.status()
    );
    Ok(jar.header())
}

static SAML_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn saml_sso(client: &reqwest::Client, base: &str, cookie: &str) -> anyhow::Result<()> {
    use std::io::Write;

    use base64::Engine;
    // Every request needs a fresh ID (usher refuses replays) and a current
    // IssueInstant (usher refuses stale requests).
    let id = SAML_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let (days, secs) = (now / 86_400, now % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let instant = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_bench{id}_{now}\" \
         Version=\"2.0\" IssueInstant=\"{instant}\"><saml:Issuer>https://sp.bench.test/metadata\
         </saml:Issuer></samlp:AuthnRequest>"
    );
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(xml.as_bytes())?;
    let request = base64::engine::general_purpose::STANDARD.encode(deflater.finish()?);
    let res = client
        .get(format!("{base}/saml/sso"))
        .query(&[("SAMLRequest", request.as_str()), ("RelayState", "bench")])
        .header(COOKIE, cookie)
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await?;
    if !status.is_success() {
        bail!("SSO answered {status}: {}", excerpt(&body));
    }
    // A signed error Response comes in the same form: only Success is a sign-on.
    crate::saml_status::check_page(&body)
}

static SCIM_USERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn scim_create(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<()> {
    let n = SCIM_USERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let user = format!("bench{n}");
    let body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{user}@example.test"),
        "externalId": format!("ext-{user}"),
        "active": true,
        "displayName": format!("Bench User {n}"),
        "name": {"givenName": "Bench", "familyName": format!("User {n}")},
        "emails": [{"value": format!("{user}@example.test"), "type": "work", "primary": true}],
    });
    let res = client
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
        .body(body.to_string())
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await?;
    if status != reqwest::StatusCode::CREATED {
        bail!("POST /Users answered {status}: {}", excerpt(&body));
    }
    Ok(())
}

/// The start of a response body, for a failure message.
fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm), so the
/// benchmark needs no date library.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
