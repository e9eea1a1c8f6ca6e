//! The per-upstream JIT policy, as the binary builds it from `[upstreams.jit]`.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::template::Template;
use crate::ports::ScimClient;
use crate::{Result, User};

/// What later sign-ins do to an existing user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Fields and groups are taken from the upstream only when the user is
    /// created (or linked); later changes in usher stick.
    #[default]
    Import,
    /// Every sign-in brings fields and group memberships in line with what the
    /// upstream asserts, removing memberships (among the managed groups) it no
    /// longer asserts.
    Force,
}

/// Attribute mapping: a template per user field.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Login name (required to create a user).
    pub username: Template,
    /// Email address.
    pub email: Template,
    /// Full name.
    pub display_name: Template,
    /// Given name.
    pub given_name: Template,
    /// Family name.
    pub family_name: Template,
    /// Upstream group names, mapped through [`GroupMapping`].
    pub groups: Template,
    /// Extra user attributes (`department = "{department}"`).
    pub attributes: BTreeMap<String, Template>,
}

impl Default for Mapping {
    /// The OIDC standard claims (OIDC Core §5.1) and a `groups` claim.
    fn default() -> Self {
        let t = |s: &str| Template::parse(s).unwrap_or_else(|e| unreachable!("{e}"));
        Self {
            username: t("{preferred_username}"),
            email: t("{email}"),
            display_name: t("{name}"),
            given_name: t("{given_name}"),
            family_name: t("{family_name}"),
            groups: t("{groups}"),
            attributes: BTreeMap::new(),
        }
    }
}

/// How upstream group names become usher groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMapping {
    /// Upstream group name -> usher group name (compared case-insensitively on
    /// the upstream side).
    pub map: BTreeMap<String, String>,
    /// Upstream groups without an entry in `map` become usher groups of the same
    /// name. Off by default: otherwise a partner's IdP that asserts `admins`
    /// would make its users members of usher's `admins`.
    pub pass_unmapped: bool,
    /// Groups every user of this upstream joins.
    pub default_groups: Vec<String>,
    /// With `force` sync, only memberships of these groups are removed when no
    /// longer asserted. Empty: every group (the user's memberships are exactly
    /// what the upstream asserts, as Okta's "full sync" does).
    pub managed: Vec<String>,
}

/// The JIT policy of one upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct JitPolicy {
    /// Create a user on first sign-in. Off: only identities already linked (or
    /// linkable by verified email) may sign in.
    pub create: bool,
    /// Email domains whose people may sign in through this upstream (compared
    /// case-insensitively, exact domain). Empty: any.
    pub allowed_email_domains: Vec<String>,
    /// Client networks sign-ins through this upstream may come from. Empty: any.
    pub allowed_networks: Vec<IpNet>,
    /// Require `email_verified` for the domain allow-list (an unverified address
    /// proves nothing about the person's domain).
    pub require_verified_email: bool,
    /// Link a new upstream identity to an existing usher user with the same email
    /// address, when the address is verified and in `trusted_domains`.
    pub link_by_verified_email: bool,
    /// The domains this upstream is trusted for: its home-realm domains.
    pub trusted_domains: Vec<String>,
    /// Link a new upstream identity to the user one named SCIM client pushed
    /// with the `externalId` the identity carries (e.g. Entra ID's `{oid}`).
    /// `None`: off.
    pub link_by_external_id: Option<ExternalIdLink>,
    /// `import` or `force`.
    pub sync: SyncMode,
    /// Field templates.
    pub mapping: Mapping,
    /// Group mapping.
    pub groups: GroupMapping,
}

/// `link_by_external_id`: which claim of the upstream identity holds the id, and
/// which SCIM client's users it may link to.
///
/// Scoped to one provisioning source because an `externalId` is not a secret (an
/// Entra ID object id appears in tokens, Graph responses and admin screens): an
/// upstream allowed to link to a user *any* SCIM client pushed would let a
/// partner's IdP asserting a corporate user's object id take over that account.
/// The rule is: the upstream whose directory pushed the user (e.g. `entra`) links
/// to that directory's users only.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalIdLink {
    claim: Template,
    scim_client: String,
}

impl ExternalIdLink {
    /// Links through `claim` to users SCIM client `scim_client` pushed. The name
    /// follows [`ScimClient::check_name`]; whether such a client exists is for
    /// whoever knows the clients to check.
    pub fn new(claim: Template, scim_client: &str) -> Result<Self> {
        ScimClient::check_name(scim_client)?;
        Ok(Self {
            claim,
            scim_client: scim_client.to_owned(),
        })
    }

    /// The template whose value is the `externalId` to look for.
    pub fn claim(&self) -> &Template {
        &self.claim
    }

    /// The SCIM client whose users may be linked.
    pub fn scim_client(&self) -> &str {
        &self.scim_client
    }

    /// True when `user` is one this rule may link to: pushed by its SCIM client
    /// (not by another one, and not a local or JIT-made account that happens to
    /// carry the id).
    pub fn may_link(&self, user: &User) -> bool {
        user.provisioned_by.as_deref() == Some(self.scim_client.as_str())
    }
}

impl Default for JitPolicy {
    /// Create on first login, from anywhere, no linking by email, `import`.
    fn default() -> Self {
        Self {
            create: true,
            allowed_email_domains: Vec::new(),
            allowed_networks: Vec::new(),
            require_verified_email: false,
            link_by_verified_email: false,
            trusted_domains: Vec::new(),
            link_by_external_id: None,
            sync: SyncMode::Import,
            mapping: Mapping::default(),
            groups: GroupMapping::default(),
        }
    }
}
