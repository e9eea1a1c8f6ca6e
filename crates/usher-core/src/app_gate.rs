//! [`AssignmentGate`]: the [`AppGate`] that enforces applications' assignments at
//! sign-in, over the [`Applications`] port.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ports::{Admission, AppGate, Applications};
use crate::{NewAuditEntry, Result, SignIn, User};

/// Admits a user to the app behind a client or SP when that app is enabled and
/// the user is active and assigned to it (everyone, a group, or directly). A
/// client or SP that no application names is admitted: it predates applications,
/// or its admin chose not to restrict it.
///
/// Reads the store at every sign-in (two indexed queries), so a change to an
/// assignment, a group or a user's state counts from the next sign-in on, on
/// every instance.
#[derive(Clone)]
pub struct AssignmentGate {
    apps: Arc<dyn Applications>,
}

impl AssignmentGate {
    /// A gate over `apps`.
    pub fn new(apps: Arc<dyn Applications>) -> Self {
        Self { apps }
    }
}

impl std::fmt::Debug for AssignmentGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AssignmentGate")
    }
}

#[async_trait]
impl AppGate for AssignmentGate {
    async fn admit(&self, sign_in: &SignIn, user: &User) -> Result<Admission> {
        let Some(app) = self.apps.find_application_by_sign_in(sign_in).await? else {
            return Ok(Admission::Allowed);
        };
        let not_assigned = || Admission::NotAssigned {
            app: app.spec.display_name().to_owned(),
        };
        // A switched-off app admits nobody: "disabled" must not mean "open".
        if !app.spec.enabled() || !user.active {
            return Ok(not_assigned());
        }
        if self.apps.is_assigned(app.id, user.id).await? {
            Ok(Admission::Allowed)
        } else {
            Ok(not_assigned())
        }
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
