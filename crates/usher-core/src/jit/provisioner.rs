//! The JIT runner: looks up what the directory knows, decides, and applies the
//! plan in one transaction, recording every decision.

use std::net::IpAddr;
use std::sync::Arc;

use super::decide::{Denial, Known, decide};
use super::policy::JitPolicy;
use super::report::{JitOutcome, NewReportEntry};
use crate::ports::{Directory, Provision, ProvisioningReport};
use crate::{Error, ExternalIdentity, Result, UniqueKey, User};

/// What came of a federated sign-in.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once per sign-in and matched at once; never stored or sent"
)]
pub enum Provisioned {
    /// Sign this user in.
    SignIn {
        /// The user (as stored after the changes).
        user: User,
        /// What was done.
        outcome: JitOutcome,
    },
    /// Refused; nothing was created or changed.
    Denied(Denial),
}

/// Runs JIT provisioning over the directory and the report.
#[derive(Clone)]
pub struct Provisioner {
    directory: Arc<dyn Directory>,
    report: Arc<dyn ProvisioningReport>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Provisioner")
    }
}

impl Provisioner {
    /// A runner over `directory` and `report`.
    pub fn new(directory: Arc<dyn Directory>, report: Arc<dyn ProvisioningReport>) -> Self {
        Self { directory, report }
    }

    /// Decides and applies. Storage failures are errors; policy refusals are
    /// [`Provisioned::Denied`] (and recorded).
    pub async fn run(
        &self,
        policy: &JitPolicy,
        upstream_enabled: bool,
        identity: &ExternalIdentity,
        client_ip: Option<IpAddr>,
    ) -> Result<Provisioned> {
        // Two first sign-ins at once: the second loses the race on the link's
        // primary key (same identity) or on a group both create (same new group),
        // and on retry finds what the first made.
        match self
            .attempt(policy, upstream_enabled, identity, client_ip)
            .await
        {
            Err(Error::Conflict(UniqueKey::IdentityLink | UniqueKey::GroupName)) => {
                self.attempt(policy, upstream_enabled, identity, client_ip)
                    .await
            }
            other => other,
        }
    }

    async fn attempt(
        &self,
        policy: &JitPolicy,
        upstream_enabled: bool,
        identity: &ExternalIdentity,
        client_ip: Option<IpAddr>,
    ) -> Result<Provisioned> {
        let ip = client_ip.map(|ip| ip.to_canonical().to_string());
        let mut known = Known {
            upstream_enabled,
            ..Known::default()
        };
        let linked = self
            .directory
            .find_user_by_link(&identity.upstream, &identity.subject)
            .await?;
        let by_external_id = match (&linked, &policy.link_by_external_id) {
            (None, Some(rule)) => match rule.claim().eval_one(&identity.attributes) {
                Some(id) if !id.trim().is_empty() => self
                    .directory
                    .find_user_by_external_id(id.trim())
                    .await?
                    .filter(|user| rule.may_link(user)),
                _ => None,
            },
            _ => None,
        };
        // Only a user the rule's own SCIM client pushed (another client's user
        // is not this upstream's to claim: an externalId is no secret, issue 10),
        // and not one another identity of this upstream already signs in as: a
        // second upstream account presenting the same id must not take the first
        // one's place.
        let by_external_id = match by_external_id {
            Some(user) => {
                let links = self.directory.links_of(user.id).await?;
                (!links.iter().any(|l| l.upstream == identity.upstream)).then_some(user)
            }
            _ => None,
        };
        if let Some(user) = linked {
            let groups = self.group_names(&user).await?;
            known.linked = Some((user, groups));
        } else if let Some(user) = by_external_id {
            let groups = self.group_names(&user).await?;
            known.by_external_id = Some((user, groups));
        } else if let Some(email) = policy
            .mapping
            .email
            .eval_one(&identity.attributes)
            .or_else(|| identity.email.clone())
            && let Some(user) = self.directory.find_user_by_email(email.trim()).await?
        {
            let groups = self.group_names(&user).await?;
            known.by_email = Some((user, groups));
        }
        let plan = match decide(policy, identity, client_ip, &known) {
            Ok(plan) => plan,
            Err(denial) => return self.deny(identity, known_user(&known), ip, denial).await,
        };
        let request = Provision {
            upstream: identity.upstream.clone(),
            subject: identity.subject.clone(),
            plan,
            client_ip: ip.clone(),
        };
        match self.directory.provision(request).await {
            Ok(Some((user, outcome))) => Ok(Provisioned::SignIn { user, outcome }),
            // Deactivated between the lookup and the transaction.
            Ok(None) => {
                let denial = Denial::new(
                    "deactivated",
                    "Your usher account has been deactivated, so you cannot sign in with it. \
                     Ask your administrator if you need access again.",
                );
                self.deny(identity, known_user(&known), ip, denial).await
            }
            Err(Error::Conflict(key @ (UniqueKey::Username | UniqueKey::Email))) => {
                let denial = Denial::new(
                    if key == UniqueKey::Username {
                        "username_taken"
                    } else {
                        "email_taken"
                    },
                    format!(
                        "usher cannot create your account: the {key} the identity provider \
                         sent is already used by another usher account. Ask your \
                         administrator to link the accounts or change the attribute mapping."
                    ),
                );
                self.deny(identity, None, ip, denial).await
            }
            Err(Error::Invalid(message)) => {
                let denial = Denial::new(
                    "invalid_profile",
                    format!(
                        "The identity provider sent a profile usher cannot use ({message}). \
                         Ask your administrator to check the attribute mapping."
                    ),
                );
                self.deny(identity, None, ip, denial).await
            }
            Err(e) => Err(e),
        }
    }

    async fn group_names(&self, user: &User) -> Result<Vec<String>> {
        Ok(self
            .directory
            .groups_of(user.id)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect())
    }

    async fn deny(
        &self,
        identity: &ExternalIdentity,
        user: Option<&User>,
        client_ip: Option<String>,
        denial: Denial,
    ) -> Result<Provisioned> {
        self.report
            .record(NewReportEntry {
                upstream: identity.upstream.clone(),
                subject: identity.subject.clone(),
                user_id: user.map(|u| u.id),
                outcome: JitOutcome::Denied,
                reason: Some(format!("{}: {}", denial.code, denial.message)),
                client_ip,
            })
            .await?;
        Ok(Provisioned::Denied(denial))
    }
}

fn known_user(known: &Known) -> Option<&User> {
    known
        .linked
        .as_ref()
        .or(known.by_external_id.as_ref())
        .or(known.by_email.as_ref())
        .map(|(u, _)| u)
}
