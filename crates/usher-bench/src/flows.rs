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
}

/// Runs `flow` from `concurrency` tasks for `duration`; returns each iteration's time.
pub async fn drive(
    server: &Usher,
    flow: &Flow,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Duration>> {
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
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                match &flow {
                    Flow::ClientCredentials(alg) => client_credentials(&client, &base, alg).await?,
                    Flow::PasswordLogin => password_login(&client, &base).await?,
                }
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(result) = tasks.join_next().await {
        all.extend(result??);
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
fn attribute(html: &str, marker: &str) -> anyhow::Result<String> {
    let start = html
        .find(marker)
        .with_context(|| format!("{marker} not in page"))?
        + marker.len();
    let end = html[start..].find('"').context("unterminated attribute")?;
    Ok(html[start..start + end]
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
