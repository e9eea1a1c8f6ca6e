//! Prometheus metrics: requests by route and status, latency, database pool.
//!
//! Routes are labelled by their pattern (`/federation/{upstream}/...`), never by the
//! raw path, and unmatched paths share one label: otherwise anyone could create
//! unbounded time series by requesting random URLs.

use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::Readiness;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// The broker's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    ready: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~8 s: token and health requests sit at the low end, password
    // hashing and upstream calls at the high end.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    /// An empty registry with usher's metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("usher");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            pool.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 when the database and ephemeral store are reachable",
            ready.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            pool,
            ready,
        }
    }

    /// Records one finished request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let route = route.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
    }

    fn refresh(&self, readiness: &Readiness) {
        match readiness.backends() {
            Some(backends) => {
                let pool = backends.database.pool_status();
                self.pool
                    .get_or_create(&PoolLabels { state: "idle" })
                    .set(i64::from(pool.idle));
                self.pool
                    .get_or_create(&PoolLabels { state: "in_use" })
                    .set(i64::from(pool.size.saturating_sub(pool.idle)));
                self.ready.set(1);
            }
            None => {
                self.ready.set(0);
            }
        }
    }
}

/// `GET /metrics`, in the Prometheus/OpenMetrics text format.
pub async fn metrics(metrics: web::Data<Metrics>, readiness: web::Data<Readiness>) -> HttpResponse {
    metrics.refresh(&readiness);
    let mut body = String::new();
    match encode(&mut body, &metrics.registry) {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
