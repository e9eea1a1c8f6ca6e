//! The upstream OIDC relying party and `/login/federated`, end to end over real
//! HTTP: an in-process usher (the relying party's routes and the real pages over
//! SQLite and the memory store) signs people in at [`UpstreamOp`]s the tests
//! control. `flows` covers JIT through the whole chain; `attacks` has one named
//! test per attack class (issue 5, item 9).

mod attacks;
mod flows;
mod upstream_op;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use usher_core::jit::{JitPolicy, Provisioner, ReportEntry, ReportQuery};
use usher_core::ports::{
    AuditLog, Clock, Credentials, Directory, EphemeralStore, ProvisioningReport, SystemClock,
};
use usher_core::{
    Interactions, SessionPolicy, Sessions, UpstreamId, UpstreamKind, UpstreamProfile, User,
};
use usher_oidc::upstream::{OidcUpstream, RpDeps, RpSettings, RpState, UpstreamClientAuth};
use usher_store::{Database, MemoryEphemeralStore, SqlStore};
use usher_web::{
    Federation, PasswordHasher, PasswordPolicy, ThrottlePolicy, WebDeps, WebSettings, WebState,
};

pub use upstream_op::{CLIENT_ID, CLIENT_SECRET, Signing, UpstreamOp, profile};

/// One upstream for [`Usher::start`].
pub struct Up {
    pub id: &'static str,
    /// `private_key_jwt` with this PEM key instead of the client secret.
    pub private_key_pem: Option<Vec<u8>>,
    pub issuer: String,
    pub enabled: bool,
    pub domains: Vec<String>,
    pub jit: JitPolicy,
}

impl Up {
    pub fn new(id: &'static str, op: &UpstreamOp) -> Self {
        Self {
            id,
            private_key_pem: None,
            issuer: op.issuer.clone(),
            enabled: true,
            domains: vec!["example.com".into()],
            jit: JitPolicy::default(),
        }
    }
}

/// A running usher with federation.
pub struct Usher {
    pub base: String,
    pub store: SqlStore,
    pub interactions: Interactions,
}

impl Usher {
    pub async fn start(upstreams: Vec<Up>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = Database::connect("sqlite::memory:").await.expect("SQLite");
        db.migrate().await.expect("migrated");
        let store = db.store();
        let ephemeral: Arc<dyn EphemeralStore> = Arc::new(MemoryEphemeralStore::new(100_000));
        let sessions = Sessions::new(
            ephemeral.clone(),
            Arc::new(store.clone()),
            clock.clone(),
            SessionPolicy::default(),
        );
        let interactions =
            Interactions::new(ephemeral.clone(), Arc::new(store.clone()), clock.clone());
        let handoffs = interactions.clone();
        let oidc: Vec<OidcUpstream> = upstreams
            .iter()
            .map(|u| OidcUpstream {
                id: UpstreamId::parse(u.id).expect("id"),
                display_name: format!("{} SSO", u.id),
                enabled: u.enabled,
                issuer: u.issuer.clone(),
                client_id: CLIENT_ID.into(),
                auth: match &u.private_key_pem {
                    Some(pem) => UpstreamClientAuth::PrivateKeyJwt(Box::new(
                        usher_oidc::upstream::private_key_jwt_key(pem, "usher-rp-key")
                            .expect("key"),
                    )),
                    None => UpstreamClientAuth::SecretBasic(CLIENT_SECRET.into()),
                },
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                userinfo: true,
                timeout: Duration::from_secs(2),
            })
            .collect();
        let profiles: Vec<UpstreamProfile> = upstreams
            .into_iter()
            .map(|u| UpstreamProfile {
                id: UpstreamId::parse(u.id).expect("id"),
                kind: UpstreamKind::Oidc,
                display_name: format!("{} SSO", u.id),
                enabled: u.enabled,
                domains: u.domains,
                jit: u.jit,
            })
            .collect();
        let rp = Arc::new(RpState::new(
            RpSettings {
                public_url: base.clone(),
                secure_cookies: false,
            },
            oidc,
            RpDeps {
                ephemeral: ephemeral.clone(),
                interactions: interactions.clone(),
                clock: clock.clone(),
                budget: crate::fixture::budget(ephemeral.clone(), clock.clone()),
            },
        ));
        let directory: Arc<dyn Directory> = Arc::new(store.clone());
        let report: Arc<dyn ProvisioningReport> = Arc::new(store.clone());
        let credentials: Arc<dyn Credentials> = Arc::new(store.clone());
        let audit: Arc<dyn AuditLog> = Arc::new(store.clone());
        let web_state = WebState::new(
            WebSettings {
                public_url: base.clone(),
                secure_cookies: false,
                trusted_proxies: Vec::new(),
                throttle: ThrottlePolicy::default(),
            },
            WebDeps {
                directory: directory.clone(),
                credentials,
                ephemeral,
                sessions,
                interactions,
                logout_listeners: vec![],
                audit,
                clock,
                hasher: Arc::new(PasswordHasher::new(PasswordPolicy {
                    memory_kib: 1024,
                    iterations: 1,
                    parallelism: 1,
                    max_concurrent: 1,
                })),
            },
        )
        .with_federation(Federation {
            upstreams: profiles,
            provisioner: Provisioner::new(directory, report),
            upstream_logout: None,
        });
        let web_data = web::Data::new(OnceLock::new());
        let _ = web_data.set(Arc::new(web_state));
        let rp_data: usher_oidc::upstream::RpData = web::Data::new(OnceLock::new());
        let _ = rp_data.set(rp);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web_data.clone())
                .app_data(rp_data.clone())
                .configure(usher_oidc::upstream::configure)
                .configure(usher_web::configure)
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listens")
        .run();
        tokio::spawn(server);
        Self {
            base,
            store,
            interactions: handoffs,
        }
    }

    pub async fn user(&self, username: &str) -> Option<User> {
        self.store
            .find_user_by_username(username)
            .await
            .expect("query")
    }

    pub async fn user_count(&self) -> usize {
        self.store
            .list_users(usher_core::PageRequest::first(100))
            .await
            .expect("users")
            .items
            .len()
    }

    pub async fn report(&self) -> Vec<ReportEntry> {
        self.store
            .query(&ReportQuery::default())
            .await
            .expect("report")
    }
}

/// A browser: keeps cookies, follows nothing by itself.
pub struct Browser {
    http: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

/// A response, read.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: HashMap::new(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = self.http.get(url);
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.expect("request");
        for value in res.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            if let Some((name, rest)) = text.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default();
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.text().await.unwrap_or_default();
        Page {
            status,
            location,
            body,
        }
    }

    /// Posts a form (urlencoded `body`) with the cookies.
    pub async fn post_form(&mut self, url: &str, body: &str) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let res = self
            .http
            .post(url)
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.text().await.unwrap_or_default();
        Page {
            status,
            location,
            body,
        }
    }

    /// Starts a sign-in through `upstream` and follows it to the usher callback;
    /// returns the callback URL (not yet visited).
    pub async fn reach_callback(&mut self, usher: &Usher, upstream: &str) -> String {
        let start = self
            .get(&format!("{}/federation/{upstream}/oidc/start", usher.base))
            .await;
        assert_eq!(start.status, 303, "{start:?}");
        let authorize = start.location.expect("to the upstream");
        let approved = self.get(&authorize).await;
        assert_eq!(approved.status, 302, "{approved:?}");
        approved.location.expect("back to usher")
    }

    /// A whole sign-in: start, upstream, callback, `/login/federated`. Returns the
    /// last page (a redirect home when signed in, an error page otherwise).
    pub async fn sign_in(&mut self, usher: &Usher, upstream: &str) -> Page {
        let callback = self.reach_callback(usher, upstream).await;
        let page = self.get(&callback).await;
        match (&page.status, &page.location) {
            (303, Some(next)) if next.starts_with("/login/federated") => {
                self.get(&format!("{}{next}", usher.base)).await
            }
            _ => page,
        }
    }
}

/// True when the page is a sign-in that worked (home, with a session cookie).
pub fn signed_in(page: &Page, browser: &Browser) -> bool {
    page.status == 303
        && page.location.as_deref() == Some("/")
        && browser.cookies.contains_key(usher_core::SESSION_COOKIE)
}
