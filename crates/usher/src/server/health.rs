//! Liveness and readiness.
//!
//! `/healthz` answers while the process can serve HTTP at all (restart me if not).
//! `/readyz` answers 200 only when the database and the ephemeral store respond
//! (send me traffic); a load balancer stops routing to an instance that cannot
//! reach them, while the instance keeps retrying.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::backends::Backends;

/// How long a readiness probe waits for each backend.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the backends are up, and if not, why.
#[derive(Debug, Default)]
pub struct Readiness {
    backends: OnceLock<Backends>,
    waiting_for: Mutex<String>,
}

impl Readiness {
    /// The backends, once they have been opened.
    pub fn backends(&self) -> Option<&Backends> {
        self.backends.get()
    }

    /// Records that the backends are open.
    pub fn set_ready(&self, backends: Backends) {
        let _ = self.backends.set(backends);
    }

    /// Records why the backends are not open yet (shown by `/readyz`).
    pub fn set_waiting(&self, reason: String) {
        *self.waiting_for.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    fn waiting_for(&self) -> String {
        let reason = self
            .waiting_for
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if reason.is_empty() {
            "starting".to_owned()
        } else {
            reason
        }
    }
}

/// `GET /healthz`
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// `GET /readyz`
pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let Some(backends) = readiness.backends() else {
        return HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not_ready", "reason": readiness.waiting_for() }));
    };
    let database = probe(backends.database.ping()).await;
    let ephemeral = probe(backends.ephemeral.ping()).await;
    let ready = database.is_ok() && ephemeral.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": report(backends.database.backend_name(), &database),
        "ephemeral": report(backends.ephemeral_kind, &ephemeral),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn probe(check: impl Future<Output = usher_core::Result<()>>) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

fn report(backend: &str, result: &Result<(), String>) -> serde_json::Value {
    match result {
        Ok(()) => json!({ "backend": backend, "status": "ok" }),
        Err(e) => json!({ "backend": backend, "status": "error", "error": e }),
    }
}
