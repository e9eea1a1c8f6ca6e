//! The SCIM service's settings, ports and authentication of its clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use usher_core::ports::{Clock, Directory, LogoutListener, ScimClients};
use usher_core::{Sessions, UserId};

use usher_scim_model::error::{Result, ScimError};

/// The slot the handlers find the state in (empty until the backends are open).
pub type ScimData = web::Data<OnceLock<Arc<ScimState>>>;

/// Limits and addresses.
#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// The service's base URL (`https://id.example.com/scim/v2`), no trailing slash:
    /// the prefix of every `location` and `$ref`.
    pub base_url: String,
    /// Most resources in one list response (`filter.maxResults`).
    pub max_results: u32,
    /// Largest request body, bulk included (`bulk.maxPayloadSize`), in bytes.
    pub max_payload: usize,
    /// Most operations in one bulk request (`bulk.maxOperations`).
    pub max_bulk_operations: usize,
}

impl Default for ScimSettings {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/scim/v2".into(),
            max_results: 200,
            max_payload: 1024 * 1024,
            max_bulk_operations: 100,
        }
    }
}

/// The ports the service works through.
#[derive(Clone)]
pub struct ScimDeps {
    /// Users and groups.
    pub directory: Arc<dyn Directory>,
    /// SCIM clients and their tokens.
    pub clients: Arc<dyn ScimClients>,
    /// SSO sessions, ended when a user is deactivated or deleted.
    pub sessions: Sessions,
    /// Told of every session ended that way (logout propagation).
    pub logout_listeners: Vec<Arc<dyn LogoutListener>>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ScimDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimDeps").finish_non_exhaustive()
    }
}

/// Everything a SCIM handler needs.
#[derive(Debug)]
pub struct ScimState {
    pub(crate) settings: ScimSettings,
    pub(crate) deps: ScimDeps,
    /// When this process last recorded each client's use.
    touched: Mutex<HashMap<String, Instant>>,
}

/// Uses are recorded at most this often per client and process.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The authenticated SCIM client.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Its name: what its users and groups are marked with.
    pub name: String,
    /// How the audit log names it.
    pub actor: String,
}

impl ScimState {
    /// A state over `deps`.
    pub fn new(settings: ScimSettings, deps: ScimDeps) -> Self {
        Self {
            settings,
            deps,
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// RFC 6750 bearer token → the client holding it.
    pub(crate) async fn authenticate(&self, req: &HttpRequest) -> Result<Caller> {
        let unauthorized =
            |why: &str| ScimError::status(StatusCode::UNAUTHORIZED.as_u16(), why.to_owned());
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthorized("send the client's token as Authorization: Bearer <token>")
            })?;
        let value = header
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not text"))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty() && t.len() <= 512)
            .ok_or_else(|| unauthorized("use the Bearer scheme with the client's token"))?;
        // Stored as a digest: the lookup is by digest, so comparing is not timed
        // on the secret.
        let digest = usher_core::random::digest(token);
        let client = self
            .deps
            .clients
            .scim_client_by_token(&digest)
            .await
            .map_err(ScimError::from_core)?
            .ok_or_else(|| unauthorized("the token is unknown or revoked"))?;
        self.touch(&client.name).await;
        Ok(Caller {
            actor: format!("scim:{}", client.name),
            name: client.name,
        })
    }

    async fn touch(&self, name: &str) {
        let due = {
            let Ok(mut touched) = self.touched.lock() else {
                return;
            };
            let now = Instant::now();
            match touched.get(name) {
                Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
                _ => {
                    touched.insert(name.to_owned(), now);
                    true
                }
            }
        };
        if due
            && let Err(e) = self
                .deps
                .clients
                .touch_scim_client(name, self.deps.clock.now())
                .await
        {
            tracing::warn!(client = name, error = %e, "SCIM: could not record the token's use");
        }
    }

    /// Ends every SSO session and refresh-token family of a user who was just
    /// deactivated or deleted, and tells the logout listeners.
    pub(crate) async fn end_sessions(&self, user: UserId) {
        if let Err(e) = self
            .deps
            .sessions
            .end_all_for_user(user, &self.deps.logout_listeners)
            .await
        {
            tracing::error!(user = %user, error = %e, "SCIM: could not end the sessions of a deactivated user now; the provisioning planner retries with the event");
        }
    }
}

/// The state, or 503 while the backends are opening.
pub(crate) fn ready(data: &ScimData) -> Result<Arc<ScimState>> {
    data.get().cloned().ok_or_else(|| {
        ScimError::status(
            StatusCode::SERVICE_UNAVAILABLE.as_u16(),
            "the server is starting; retry shortly",
        )
    })
}
