//! The user a grant is for, who must still exist and be active.

use usher_core::{Error, User, UserId};

use crate::error::OAuthError;
use crate::state::OidcState;

/// The user, or `invalid_grant` when deleted or deactivated since the grant.
pub async fn active_user(state: &OidcState, id: UserId) -> Result<User, OAuthError> {
    match state.deps.directory.get_user(id).await {
        Ok(user) if user.active => Ok(user),
        Ok(_) | Err(Error::NotFound { .. }) => {
            Err(OAuthError::invalid_grant("the user is no longer active"))
        }
        Err(e) => Err(e.into()),
    }
}
