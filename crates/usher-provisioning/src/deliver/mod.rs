//! One job through one connector: read what the app should hold and what usher
//! knows it holds (the remote mapping), make the calls that close the gap, and say
//! how it ended, with the report row and the mapping change to write with it.
//!
//! The rules (docs/provisioning.md, "Delivery", has them for administrators):
//!
//! - **Users** ([`user`]): no mapping: look the account up by the app's match keys
//!   and adopt it (updating it when it differs), else create it; a conflict is
//!   answered by finding and adopting, never by a second create. With a mapping:
//!   reactivate, update (only when the record differs from what was pushed last,
//!   sending the connector that last push so it sends only the difference),
//!   deactivate, in that order. A missing account (404) is re-created or reported
//!   per the app's `on_missing`. Absent: the app's deprovision action, falling
//!   back to the other one when the connector cannot do it.
//! - **Groups** ([`group`]): created with their members, renamed, members added
//!   and removed in batches of the connector's size; members without an account
//!   yet are waited for a few attempts, then left for the group's next plan.
//! - **Errors**: a target-wide error (rate limited, unauthorized, fatal) pauses
//!   the app and gives the job back uncounted; a retryable one backs off; a
//!   permanent one, or running out of attempts, parks the job with its reason.
//!
//! Nothing here panics on any connector answer, and nothing here writes: the
//! sender writes the outcome through `Jobs::complete`, `retry` or `park`, in one
//! transaction with the report row and the mapping change.

mod group;
mod user;

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use usher_connector::{Connector, ConnectorError, ErrorKind, ErrorScope};
use usher_core::outbound::{
    Attempt, AttemptResult, Job, ObjectRef, ProvisioningSettings, RemoteChange, RemoteObject,
    RemoteState,
};
use usher_core::ports::{Clock, RemoteObjects};
use usher_core::{Application, ApplicationId};

use crate::Desired;
use crate::backoff::Backoff;

/// A group job whose members do not all have an account yet is tried again this
/// many times (with the usual backoff) before it settles without them.
pub const MEMBER_WAIT_ATTEMPTS: u32 = 5;

/// What a delivery needs: the app, its connector (already paced), the remote
/// mapping and the backoff.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// The application.
    pub app: ApplicationId,
    /// Its provisioning side.
    pub settings: &'a ProvisioningSettings,
    /// Its connector.
    pub connector: &'a dyn Connector,
    /// The remote mapping (read only: changes travel in the outcome).
    pub remote: &'a dyn RemoteObjects,
    /// The wait before a retry.
    pub backoff: &'a Backoff,
    /// Now.
    pub clock: &'a dyn Clock,
}

impl std::fmt::Debug for Delivery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("app", &self.app)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl<'a> Delivery<'a> {
    /// For `app`, which must have a provisioning side (`None` otherwise).
    pub fn for_app(
        app: &'a Application,
        connector: &'a dyn Connector,
        remote: &'a dyn RemoteObjects,
        backoff: &'a Backoff,
        clock: &'a dyn Clock,
    ) -> Option<Self> {
        Some(Self {
            app: app.id,
            settings: app.spec.provisioning()?,
            connector,
            remote,
            backoff,
            clock,
        })
    }
}

/// Why a whole app must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetTrouble {
    /// The target asked to slow down: nothing goes to it for this long.
    RateLimited {
        /// From its `Retry-After`.
        retry_after: Duration,
    },
    /// The target refused the credentials or cannot be used as configured:
    /// nothing will work until an administrator acts. The app is shown failing
    /// with this reason and probed again after a slowing delay.
    Failing {
        /// In words, from the connector.
        reason: String,
    },
}

/// How a delivery ended, which decides the `Jobs` call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done (success, nothing to do, or skipped): `Jobs::complete`.
    Complete,
    /// Try again at `at`: `Jobs::retry`.
    Retry {
        /// Not before.
        at: OffsetDateTime,
        /// Why, in words.
        error: String,
    },
    /// Given up: `Jobs::park`.
    Park {
        /// Why, in words.
        error: String,
    },
    /// The whole app must wait; the job goes back uncounted (`Jobs::release_all`
    /// of the sender's jobs) unless it made progress worth recording first.
    Pause {
        /// What the app waits for.
        trouble: TargetTrouble,
        /// The error, in words.
        error: String,
    },
}

/// An outcome with the mapping change and the report row to write with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// How it ended.
    pub outcome: Outcome,
    /// What the app now holds, when that changed.
    pub remote: Option<RemoteChange>,
    /// The report row.
    pub report: Attempt,
}

/// How a flow ended well.
#[derive(Debug)]
struct Settled {
    result: AttemptResult,
    /// The operation to report when no call was made.
    intent: &'static str,
    message: Option<String>,
}

impl Settled {
    fn success() -> Self {
        Self {
            result: AttemptResult::Success,
            intent: "none",
            message: None,
        }
    }

    fn no_change(intent: &'static str, why: impl Into<String>) -> Self {
        Self {
            result: AttemptResult::NoChange,
            intent,
            message: Some(why.into()),
        }
    }

    fn skipped(intent: &'static str, why: impl Into<String>) -> Self {
        Self {
            result: AttemptResult::Skipped,
            intent,
            message: Some(why.into()),
        }
    }
}

/// How a flow ended badly.
#[derive(Debug)]
enum Fault {
    /// The connector said no.
    Connector(ConnectorError),
    /// usher's own storage failed (reading a mapping): try again later.
    Store(usher_core::Error),
    /// Nothing will change by trying again: park.
    Permanent(String),
    /// Worth another attempt, with backoff (a conflict whose account cannot be
    /// found yet, members still without accounts).
    Wait(String),
}

impl From<ConnectorError> for Fault {
    fn from(e: ConnectorError) -> Self {
        Fault::Connector(e)
    }
}

/// What one delivery did so far: the calls made (for the report) and the mapping
/// as it now stands (kept on failure, so progress is never lost).
#[derive(Debug, Default)]
struct Run {
    ops: Vec<&'static str>,
    notes: Vec<String>,
    remote: Option<RemoteChange>,
}

impl Run {
    fn op(&mut self, op: &'static str) {
        self.ops.push(op);
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn upsert(&mut self, remote_id: &str, state: RemoteState, pushed: serde_json::Value) {
        let digest = if pushed.is_null() {
            // Unknown content (an account adopted by id alone): a digest that
            // matches nothing, so the next attempt sends the whole record.
            String::new()
        } else {
            crate::digest(&pushed)
        };
        self.remote = Some(RemoteChange::Upsert {
            remote_id: remote_id.to_owned(),
            state,
            pushed,
            digest,
        });
    }

    /// The same mapping in another state (deactivated, deleted): what was pushed
    /// stays, so a return compares against it.
    fn restate(&mut self, mapping: &RemoteObject, state: RemoteState) {
        self.remote = Some(RemoteChange::Upsert {
            remote_id: mapping.remote_id.clone(),
            state,
            pushed: mapping.pushed.clone(),
            digest: mapping.digest.clone(),
        });
    }

    fn forget(&mut self) {
        self.remote = Some(RemoteChange::Forget);
    }
}

/// Delivers `job` (claimed, so `job.attempts` counts this attempt): never
/// panics, never writes.
pub async fn deliver(ctx: &Delivery<'_>, job: &Job) -> Delivered {
    let started = Instant::now();
    let mut run = Run::default();
    let settled = match Desired::from_json(&job.desired) {
        Err(e) => Err(Fault::Permanent(e)),
        Ok(desired) => match (job.object, desired) {
            (ObjectRef::User(_), Desired::User { record }) => {
                user::present(ctx, &mut run, job, record).await
            }
            (ObjectRef::User(_), Desired::Absent { action }) => {
                user::absent(ctx, &mut run, job, action).await
            }
            (ObjectRef::Group(_), Desired::Group { record, members }) => {
                group::present(ctx, &mut run, job, record, members).await
            }
            (ObjectRef::Group(_), Desired::Absent { .. }) => {
                group::absent(ctx, &mut run, job).await
            }
            // The mapping gave nothing usable: parked in words, naming the field,
            // until the user's data (or the mapping) changes and a new plan comes.
            (_, Desired::Unmappable { field, reason }) => Err(Fault::Permanent(format!(
                "the attribute mapping gives no usable {field}: {reason}"
            ))),
            (object, _) => Err(Fault::Permanent(format!(
                "the job's desired state does not fit its object ({object})"
            ))),
        },
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    finish(ctx, job, run, settled, duration_ms)
}

fn finish(
    ctx: &Delivery<'_>,
    job: &Job,
    run: Run,
    settled: Result<Settled, Fault>,
    duration_ms: u64,
) -> Delivered {
    let Run { ops, notes, remote } = run;
    let mut report = Attempt {
        app: ctx.app,
        object: job.object,
        label: job.label.clone(),
        operation: String::new(),
        result: AttemptResult::Success,
        remote_code: None,
        message: None,
        http_status: None,
        duration_ms,
        attempt: job.attempts,
    };
    let joined = ops.join("+");
    let words = |main: Option<String>| -> Option<String> {
        let mut parts: Vec<String> = notes.clone();
        parts.extend(main);
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    let outcome = match settled {
        Ok(s) => {
            report.operation = if joined.is_empty() {
                s.intent.to_owned()
            } else {
                joined
            };
            report.result = s.result;
            report.message = words(s.message);
            Outcome::Complete
        }
        Err(fault) => {
            // The call that failed was the last one tried; with none tried, the
            // lookup (or the job itself) failed.
            report.operation = if joined.is_empty() {
                "lookup".to_owned()
            } else {
                joined
            };
            let (outcome, error) = judge(ctx, job, fault, &mut report);
            report.message = words(Some(error));
            outcome
        }
    };
    Delivered {
        outcome,
        remote,
        report,
    }
}

/// Turns a fault into the outcome (and the report's result, code and status).
fn judge(ctx: &Delivery<'_>, job: &Job, fault: Fault, report: &mut Attempt) -> (Outcome, String) {
    let max = ctx.settings.max_attempts.max(1);
    let now = ctx.clock.now();
    let retry_or_park = |report: &mut Attempt, error: String, after: Option<Duration>| {
        if job.attempts >= max {
            report.result = AttemptResult::Failed;
            let error = format!("gave up after {} attempts: {error}", job.attempts);
            (
                Outcome::Park {
                    error: error.clone(),
                },
                error,
            )
        } else {
            report.result = AttemptResult::Retry;
            let wait = ctx.backoff.delay(job.attempts, after);
            let at = now + wait;
            (
                Outcome::Retry {
                    at,
                    error: error.clone(),
                },
                error,
            )
        }
    };
    let park = |report: &mut Attempt, error: String| {
        report.result = AttemptResult::Failed;
        (
            Outcome::Park {
                error: error.clone(),
            },
            error,
        )
    };
    match fault {
        Fault::Permanent(error) => park(report, error),
        Fault::Wait(error) => retry_or_park(report, error, None),
        Fault::Store(e) => retry_or_park(report, format!("usher's storage failed: {e}"), None),
        Fault::Connector(e) => {
            report.remote_code = e.remote_code().map(str::to_owned);
            report.http_status = e.http_status();
            let error = describe(&e);
            if e.scope() == ErrorScope::Target {
                report.result = AttemptResult::Retry;
                let trouble = match e.kind() {
                    ErrorKind::RateLimited { retry_after } => TargetTrouble::RateLimited {
                        retry_after: *retry_after,
                    },
                    _ => TargetTrouble::Failing {
                        reason: error.clone(),
                    },
                };
                (
                    Outcome::Pause {
                        trouble,
                        error: error.clone(),
                    },
                    error,
                )
            } else if e.is_retryable() {
                retry_or_park(report, error, e.retry_after())
            } else {
                park(report, error)
            }
        }
    }
}

/// The connector's sentence, with the field an `invalid` names when the
/// sentence does not.
fn describe(e: &ConnectorError) -> String {
    let message = if e.message().trim().is_empty() {
        "the app refused the request without saying why".to_owned()
    } else {
        e.message().to_owned()
    };
    match e.kind() {
        ErrorKind::Invalid { field, .. }
            if !field.is_empty() && !message.contains(field.as_str()) =>
        {
            format!("{message} (field {field})")
        }
        _ => message,
    }
}
