//! The plain assignment gate: who may sign in to an application through usher.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ports::{Admission, AppGate, Applications};
use crate::{Application, NewAuditEntry, Result, SignIn, User};

/// [`AppGate`] by assignment alone: a client or SP that no application names is
/// admitted (it predates apps); otherwise the app must be enabled, the user
/// assigned to it and active. A refusal names the app for the page.
#[derive(Clone)]
pub struct AssignmentGate {
    applications: Arc<dyn Applications>,
}

impl std::fmt::Debug for AssignmentGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssignmentGate").finish_non_exhaustive()
    }
}

impl AssignmentGate {
    /// Over the applications port.
    pub fn new(applications: Arc<dyn Applications>) -> Self {
        Self { applications }
    }

    /// The decision and the application it was made for (`None`: no app names
    /// this sign-in), for a gate that does more for some apps.
    pub async fn decide(
        &self,
        sign_in: &SignIn,
        user: &User,
    ) -> Result<(Admission, Option<Application>)> {
        let Some(app) = self
            .applications
            .find_application_by_sign_in(sign_in)
            .await?
        else {
            return Ok((Admission::Allowed, None));
        };
        // An inactive user should never reach here (sign-in refuses them), but a
        // session outliving a deactivation must not open an app either.
        let admitted = app.spec.enabled()
            && user.active
            && self.applications.is_assigned(app.id, user.id).await?;
        let admission = if admitted {
            Admission::Allowed
        } else {
            Admission::NotAssigned {
                app: app.spec.display_name().to_owned(),
            }
        };
        Ok((admission, Some(app)))
    }
}

#[async_trait]
impl AppGate for AssignmentGate {
    async fn admit(&self, sign_in: &SignIn, user: &User) -> Result<Admission> {
        Ok(self.decide(sign_in, user).await?.0)
    }
}

/// The audit action of a sign-in refused because the user is not assigned.
pub const NOT_ASSIGNED_ACTION: &str = "sso.denied_not_assigned";

/// The audit record every front-end writes when it refuses `user` a sign-in to
/// `app` (its display name) behind `sign_in`, so the OIDC and SAML denials read
/// alike: actor and target the user, details the protocol, the client id or
/// entity id, and the app.
pub fn not_assigned_audit(sign_in: &SignIn, user: &User, app: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor: format!("user:{}", user.id),
        action: NOT_ASSIGNED_ACTION.to_owned(),
        target: Some(user.id.to_string()),
        details: serde_json::json!({
            "username": user.username,
            "protocol": sign_in.protocol(),
            "sign_in": sign_in.key(),
            "app": app,
        }),
    }
}
