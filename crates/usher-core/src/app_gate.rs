//! The plain assignment gate: who may sign in to an application through usher.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ports::{Admission, AppGate, Applications};
use crate::{Application, Result, SignIn, User};

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
