//! A benchmark SCIM sink: a fast, in-memory SCIM 2.0 service provider served by
//! this process, so the provisioning scenarios measure usher and not the target.
//! It is **not a conformance target**: it implements only what usher's SCIM
//! connector and an Entra ID-shaped PATCH need, and nothing is checked against a
//! schema. `scim2-server` (scripts/peers.sh) is the conformance peer; the
//! connector's own tests run against it.
//!
//! Several tenants, one per app, each under its own prefix (`/app1/v2`,
//! `/app2/v2`, ...), each with its own users, groups, counts and arrival times.
//! What it serves (RFC 7644):
//!
//! - `GET /ServiceProviderConfig`: PATCH and filters supported, bulk not;
//! - `POST /Users` (201 with a new id; a userName already held, compared without
//!   case, is 409 `uniqueness`, §3.3), `GET /Users?filter=A eq "V"` on userName,
//!   externalId, emails(.value) and id (§3.4.2.2, a ListResponse), `GET /Users`
//!   paged by `startIndex` and `count`;
//! - `GET`, `PUT`, `PATCH` (`add`, `replace`, `remove`, §3.5.2) and `DELETE` of
//!   `/Users/{id}`;
//! - the same for `/Groups`, filters on displayName, externalId and id, member
//!   add and `members[value eq "x"]` removal.
//!
//! Every request needs `Authorization: Bearer <token>`. Per tenant the sink
//! counts requests by [`Op`], and per `externalId` records when the first create
//! arrived, when the account last went from active to inactive and when it was
//! deleted ([`Arrivals`]), as `Instant`s of this process, so a scenario compares
//! them with its own clock.

mod filter;
mod patch;
mod routes;
mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio::sync::Notify;

pub use store::{Arrivals, Op};
use store::{Failure, Tenant};

/// Largest request body the sink reads (usher's connector sends single resources
/// and member batches of 100).
const MAX_BODY: usize = 1024 * 1024;

/// The state every request handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    tenants: Vec<Mutex<Tenant>>,
    authorization: String,
    /// Woken after every request, so a scenario waits without polling.
    changed: Notify,
}

fn lock(tenant: &Mutex<Tenant>) -> MutexGuard<'_, Tenant> {
    // A panicking handler must not stop the benchmark's bookkeeping.
    tenant.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Runs `f` on the request's tenant, counted as `op`, once the bearer token
    /// is checked; the arrival time is taken before the tenant's lock.
    fn serve(
        &self,
        req: &HttpRequest,
        op: Op,
        f: impl FnOnce(&mut Tenant, Instant) -> Result<routes::Reply, Failure>,
    ) -> HttpResponse {
        let now = Instant::now();
        let name = req.match_info().get("tenant").unwrap_or_default();
        let tenant = name
            .strip_prefix("app")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.tenants.get(i));
        let Some(tenant) = tenant else {
            return routes::render(Err(Failure::not_found("tenant", name)));
        };
        let mut t = lock(tenant);
        let authorized = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == self.authorization.as_bytes());
        if !authorized {
            *t.counts.entry(Op::Unauthorized).or_default() += 1;
            drop(t);
            return routes::render(Err(Failure {
                status: 401,
                scim_type: None,
                detail: "a bearer token is required".into(),
            }));
        }
        *t.counts.entry(op).or_default() += 1;
        let result = f(&mut t, now);
        drop(t);
        self.changed.notify_waiters();
        routes::render(result)
    }
}

/// What a tenant saw, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests by operation.
    pub counts: BTreeMap<Op, u64>,
    /// Accounts held now.
    pub users: usize,
    /// Distinct externalIds created at least once.
    pub created: usize,
    /// Creates accepted for an externalId created before (duplicate accounts).
    pub repeated_creates: u64,
    /// Creates refused with 409 because the userName was held.
    pub conflicts: u64,
}

impl Stats {
    /// Duplicate creates of either kind: what a correct usher never sends.
    pub fn duplicates(&self) -> u64 {
        self.repeated_creates + self.conflicts
    }

    /// Requests of every kind.
    pub fn requests(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// The running sink.
#[derive(Debug)]
pub struct Sink {
    shared: Arc<Shared>,
    origin: String,
    token: String,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Sink {
    /// Serves `tenants` tenants on a free loopback port, with `workers` actix
    /// workers (threads of this process; run the bench pinned to its own core).
    pub fn start(tenants: usize, workers: usize) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let origin = format!("http://{}", listener.local_addr()?);
        let token = usher_core::random::token()?;
        let shared = Arc::new(Shared {
            tenants: (1..=tenants)
                .map(|i| Mutex::new(Tenant::new(format!("{origin}/app{i}/v2"))))
                .collect(),
            authorization: format!("Bearer {token}"),
            changed: Notify::new(),
        });
        let data = web::Data::from(shared.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("scim-sink".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(MAX_BODY))
                            .configure(routes::configure)
                    })
                    .workers(workers.max(1))
                    .disable_signals()
                    .listen(listener)?
                    .run();
                    let _ = tx.send(server.handle());
                    server.await
                })
            })?;
        let handle = rx
            .recv_timeout(Duration::from_secs(10))
            .context("the SCIM sink did not start")?;
        Ok(Self {
            shared,
            origin,
            token,
            handle,
            thread,
        })
    }

    /// The base URL of tenant `n` (1-based): what an app's `base_url` is.
    pub fn base_url(&self, n: usize) -> String {
        format!("{}/app{n}/v2", self.origin)
    }

    /// The bearer token every tenant accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn tenant(&self, n: usize) -> Option<MutexGuard<'_, Tenant>> {
        n.checked_sub(1)
            .and_then(|i| self.shared.tenants.get(i))
            .map(lock)
    }

    /// Tenant `n`'s figures (default for a tenant that does not exist).
    pub fn stats(&self, n: usize) -> Stats {
        self.tenant(n).map_or_else(Stats::default, |t| Stats {
            counts: t.counts.clone(),
            users: t.users(),
            created: t.created,
            repeated_creates: t.repeated_creates,
            conflicts: t.conflicts,
        })
    }

    /// Distinct accounts tenant `n` has seen created.
    pub fn created(&self, n: usize) -> usize {
        self.tenant(n).map_or(0, |t| t.created)
    }

    /// When tenant `n` received the latest first create of an account.
    pub fn last_created(&self, n: usize) -> Option<Instant> {
        self.tenant(n).and_then(|t| t.last_created)
    }

    /// What happened to `external_id` in tenant `n`.
    pub fn arrivals(&self, n: usize, external_id: &str) -> Option<Arrivals> {
        self.tenant(n)
            .and_then(|t| t.arrivals.get(external_id).copied())
    }

    /// Waits until `done` holds (checked after every request the sink serves)
    /// or `timeout` passes; says whether it holds.
    pub async fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a request between the check and
            // the await still wakes us.
            notified.as_mut().enable();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done(self);
            }
        }
    }

    /// Stops the server and its threads.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.thread.join();
    }
}
