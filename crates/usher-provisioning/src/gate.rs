//! The sign-in gate with provisioning: for an app in `on_first_sign_in` mode, the
//! account is asked for just before usher sends the user's first SSO response.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use usher_core::outbound::{NewJob, ObjectRef, RemoteState};
use usher_core::ports::{Admission, AppGate, Clock, Directory, Jobs, RemoteObjects};
use usher_core::{Application, AssignmentGate, Result, SignIn, User};

use crate::Desired;
use crate::planner::rules::{Target, desired_for};

/// How often a waiting sign-in looks at the remote mapping.
const POLL: Duration = Duration::from_millis(50);

/// The job cause the report shows for a first sign-in's account.
pub const FIRST_SIGN_IN: &str = "first_sign_in";

/// [`AppGate`]: the [`AssignmentGate`]'s decision, and for an admitted user of an
/// `on_first_sign_in` app without an active account there, a job enqueued now
/// and a bounded wait (`first_sign_in_wait_ms`) for the sender to make the
/// account. The user is admitted when the wait ends either way: the job goes on
/// behind, and a failure there never blocks a sign-in the assignment allows.
#[derive(Clone)]
pub struct FirstSignInGate {
    assignment: AssignmentGate,
    directory: Arc<dyn Directory>,
    jobs: Arc<dyn Jobs>,
    remotes: Arc<dyn RemoteObjects>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for FirstSignInGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstSignInGate").finish_non_exhaustive()
    }
}

impl FirstSignInGate {
    /// Over the assignment gate and the ports the account step needs.
    pub fn new(
        assignment: AssignmentGate,
        directory: Arc<dyn Directory>,
        jobs: Arc<dyn Jobs>,
        remotes: Arc<dyn RemoteObjects>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            assignment,
            directory,
            jobs,
            remotes,
            clock,
        }
    }

    async fn active_account(&self, app: &Application, user: &User) -> Result<bool> {
        Ok(self
            .remotes
            .remote_object(app.id, ObjectRef::User(user.id))
            .await?
            .is_some_and(|r| r.state == RemoteState::Active))
    }

    /// Enqueues the account's job; `false` when waiting is pointless (the user
    /// cannot be mapped: the job reports it).
    async fn enqueue(&self, target: &Target, user: &User) -> Result<bool> {
        let groups: Vec<String> = self
            .directory
            .groups_of(user.id)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let desired = desired_for(target, Some(user), &groups, true);
        let mappable = !matches!(desired, Desired::Unmappable { .. });
        let job = NewJob {
            app: target.app.id,
            object: ObjectRef::User(user.id),
            desired: desired.to_json(),
            label: user.username.clone(),
            cause: FIRST_SIGN_IN.to_owned(),
            changed_at: self.clock.now(),
        };
        self.jobs.enqueue(vec![job], &[]).await?;
        Ok(mappable)
    }

    /// The account step; errors are the caller's to log, never to refuse on.
    async fn make_account(&self, target: &Target, user: &User, wait: Duration) -> Result<bool> {
        if self.active_account(&target.app, user).await? {
            return Ok(true);
        }
        if !self.enqueue(target, user).await? {
            return Ok(false);
        }
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL.min(deadline - tokio::time::Instant::now())).await;
            if self.active_account(&target.app, user).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[async_trait]
impl AppGate for FirstSignInGate {
    async fn admit(&self, sign_in: &SignIn, user: &User) -> Result<Admission> {
        let (admission, app) = self.assignment.decide(sign_in, user).await?;
        let Some(app) = app else {
            return Ok(admission);
        };
        let first_sign_in = app
            .spec
            .provisioning()
            .is_some_and(|p| p.mode() == usher_core::outbound::ProvisioningMode::OnFirstSignIn);
        if admission != Admission::Allowed || !first_sign_in {
            return Ok(admission);
        }
        let wait = Duration::from_millis(
            app.spec
                .provisioning()
                .map_or(0, |p| p.first_sign_in_wait_ms),
        );
        let name = app.spec.name().to_owned();
        let Some(target) = Target::new(app) else {
            return Ok(admission);
        };
        match self.make_account(&target, user, wait).await {
            Ok(true) => {}
            Ok(false) => tracing::info!(
                app = %name, user = %user.id,
                "first sign-in: the account is not there yet; admitted, the job goes on"
            ),
            Err(e) => tracing::warn!(
                app = %name, user = %user.id, error = %e,
                "first sign-in: asking for the account failed; admitted anyway"
            ),
        }
        Ok(admission)
    }
}
