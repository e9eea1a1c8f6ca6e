//! The pure JIT decision: no I/O, so every rule is tested on its own.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::policy::{JitPolicy, SyncMode};
use crate::{Email, ExternalIdentity, NewUser, User, UserId, UserUpdate, normalize_email};

/// Most usher groups one upstream identity may be put in: an upstream asserting
/// thousands of groups is a misconfiguration (or an attack on the directory).
pub const MAX_MAPPED_GROUPS: usize = 100;

/// What the directory already knows about an identity, looked up by the runner.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Whether the upstream accepts sign-ins.
    pub upstream_enabled: bool,
    /// The user linked to `(upstream, subject)`, with its group names.
    pub linked: Option<(User, Vec<String>)>,
    /// The user whose `externalId` equals the identity's value of
    /// `link_by_external_id`, with its group names (looked up only when there is
    /// no link and the policy names a claim).
    pub by_external_id: Option<(User, Vec<String>)>,
    /// The user that has the asserted email address, with its group names
    /// (looked up only when there is no link or external-id match).
    pub by_email: Option<(User, Vec<String>)>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanAction {
    /// Create this user and link it.
    Create(NewUser),
    /// Link the identity to an existing user, with these changes.
    Link {
        /// The user.
        user: UserId,
        /// Field changes (empty: none).
        update: UserUpdate,
    },
    /// Sign the linked user in, with these changes.
    SignIn {
        /// The user.
        user: UserId,
        /// Field changes (empty: none).
        update: UserUpdate,
    },
}

/// A decision to let the identity in, and the changes that go with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Create, link or sign in.
    pub action: PlanAction,
    /// Groups to join, by name (created when missing).
    pub add_groups: Vec<String>,
    /// Groups to leave, by name.
    pub remove_groups: Vec<String>,
}

impl Plan {
    /// True when signing in changes nothing in the directory.
    pub fn changes_nothing(&self) -> bool {
        match &self.action {
            PlanAction::SignIn { update, .. } => {
                *update == UserUpdate::default()
                    && self.add_groups.is_empty()
                    && self.remove_groups.is_empty()
            }
            _ => false,
        }
    }
}

/// Why an identity may not sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// A stable code for the report and logs (`network`, `email_domain`, ...).
    pub code: &'static str,
    /// What to tell the person, in plain words.
    pub message: String,
}

impl Denial {
    /// A denial.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

fn domain_of(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_lowercase())
        .filter(|d| !d.is_empty())
}

fn contains_domain(list: &[String], domain: &str) -> bool {
    list.iter()
        .any(|d| d.trim().trim_end_matches('.').eq_ignore_ascii_case(domain))
}

fn deactivated() -> Denial {
    Denial::new(
        "deactivated",
        "Your usher account has been deactivated, so you cannot sign in with it. Ask your \
         administrator if you need access again.",
    )
}

/// Links the identity to an existing `user`: groups and, with `force`, fields
/// follow the upstream from now on.
fn link_plan(
    policy: &JitPolicy,
    identity: &ExternalIdentity,
    user: &User,
    groups: &[String],
    desired_groups: &[String],
    email: Option<&str>,
) -> Plan {
    let force = policy.sync == SyncMode::Force;
    let (add, remove) = group_delta(policy, desired_groups, groups, force);
    let update = if force {
        field_update(policy, identity, user, email)
    } else {
        UserUpdate::default()
    };
    Plan {
        action: PlanAction::Link {
            user: user.id,
            update,
        },
        add_groups: add,
        remove_groups: remove,
    }
}

/// Decides what an upstream identity may do. `client_ip` is the browser's address
/// as the pages determined it (trusted proxies applied).
pub fn decide(
    policy: &JitPolicy,
    identity: &ExternalIdentity,
    client_ip: Option<IpAddr>,
    known: &Known,
) -> Result<Plan, Denial> {
    if !known.upstream_enabled {
        return Err(Denial::new(
            "upstream_disabled",
            "This sign-in option has been turned off by your administrator. Choose another \
             way to sign in, or ask your administrator.",
        ));
    }
    check_network(policy, client_ip)?;
    let claims = &identity.attributes;
    let email = policy
        .mapping
        .email
        .eval_one(claims)
        .or_else(|| identity.email.clone())
        .map(|e| e.trim().to_owned());
    check_domain(policy, identity, email.as_deref())?;
    let desired_groups = mapped_groups(policy, claims)?;

    if let Some((user, groups)) = &known.linked {
        if !user.active {
            return Err(deactivated());
        }
        let (update, add, remove) = match policy.sync {
            SyncMode::Import => (UserUpdate::default(), Vec::new(), Vec::new()),
            SyncMode::Force => {
                let (add, remove) = group_delta(policy, &desired_groups, groups, true);
                (
                    field_update(policy, identity, user, email.as_deref()),
                    add,
                    remove,
                )
            }
        };
        return Ok(Plan {
            action: PlanAction::SignIn {
                user: user.id,
                update,
            },
            add_groups: add,
            remove_groups: remove,
        });
    }

    // A user pushed ahead of time by a provisioning source (SCIM) is linked, not
    // duplicated, when the signed upstream identity carries the id that source gave
    // it. The admin names the claim per upstream, so the match is on an identifier
    // the upstream controls, never on a self-asserted one.
    if let Some((user, groups)) = &known.by_external_id {
        if !user.active {
            return Err(deactivated());
        }
        return Ok(link_plan(
            policy,
            identity,
            user,
            groups,
            &desired_groups,
            email.as_deref(),
        ));
    }

    if let Some((user, groups)) = &known.by_email {
        // OIDC Core §5.7: email is not a stable identifier; linking by it is an
        // account takeover unless the upstream proved the address and is trusted
        // for its domain.
        let address = email.as_deref().unwrap_or_default();
        let trusted =
            domain_of(address).is_some_and(|d| contains_domain(&policy.trusted_domains, &d));
        if policy.link_by_verified_email && identity.email_verified && trusted {
            if !user.active {
                return Err(deactivated());
            }
            return Ok(link_plan(
                policy,
                identity,
                user,
                groups,
                &desired_groups,
                email.as_deref(),
            ));
        }
        let why = if !policy.link_by_verified_email {
            "this identity provider is not allowed to join existing accounts by email"
        } else if !identity.email_verified {
            "the identity provider did not confirm that the address is verified"
        } else {
            "this identity provider is not trusted for that email domain"
        };
        return Err(Denial::new(
            "email_taken",
            format!(
                "An usher account with the address {address} already exists, but it is not \
                 linked to this identity provider, and {why}. Ask your administrator to link \
                 the two."
            ),
        ));
    }

    if !policy.create {
        return Err(Denial::new(
            "not_provisioned",
            "You do not have an usher account yet, and accounts are not created \
             automatically for this identity provider. Ask your administrator for access.",
        ));
    }
    let username = policy
        .mapping
        .username
        .eval_one(claims)
        .or_else(|| email.clone())
        .ok_or_else(|| {
            Denial::new(
                "no_username",
                format!(
                    "The identity provider did not send a user name ({}) or an email address, \
                     so usher cannot create your account. Ask your administrator to check the \
                     attribute mapping.",
                    policy.mapping.username.source()
                ),
            )
        })?;
    let mut new = NewUser::named(username);
    if let Some(address) = &email {
        new.emails
            .push(Email::new(address.clone(), identity.email_verified, true));
    }
    new.display_name = policy.mapping.display_name.eval_one(claims);
    new.given_name = policy.mapping.given_name.eval_one(claims);
    new.family_name = policy.mapping.family_name.eval_one(claims);
    new.attributes = mapped_attributes(policy, claims, Map::new());
    new.validate().map_err(|e| {
        Denial::new(
            "invalid_profile",
            format!(
                "The identity provider sent a profile usher cannot use ({e}). Ask your \
                 administrator to check the attribute mapping."
            ),
        )
    })?;
    Ok(Plan {
        action: PlanAction::Create(new),
        add_groups: desired_groups,
        remove_groups: Vec::new(),
    })
}

fn check_network(policy: &JitPolicy, client_ip: Option<IpAddr>) -> Result<(), Denial> {
    if policy.allowed_networks.is_empty() {
        return Ok(());
    }
    let allowed = client_ip.is_some_and(|ip| {
        let ip = ip.to_canonical();
        policy.allowed_networks.iter().any(|n| n.contains(&ip))
    });
    if allowed {
        return Ok(());
    }
    let from = client_ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
    Err(Denial::new(
        "network",
        format!(
            "Signing in through this identity provider is only allowed from your \
             organisation's approved networks, and you are connecting from {from}. Connect \
             from an approved network (for example through your VPN) and try again."
        ),
    ))
}

fn check_domain(
    policy: &JitPolicy,
    identity: &ExternalIdentity,
    email: Option<&str>,
) -> Result<(), Denial> {
    if policy.allowed_email_domains.is_empty() {
        return Ok(());
    }
    let list = policy.allowed_email_domains.join(", ");
    let Some(domain) = email.and_then(domain_of) else {
        return Err(Denial::new(
            "email_domain",
            format!(
                "The identity provider did not send your email address, and this sign-in \
                 option is only open to addresses at {list}."
            ),
        ));
    };
    if policy.require_verified_email && !identity.email_verified {
        return Err(Denial::new(
            "email_unverified",
            "The identity provider did not confirm that your email address is verified, \
             which this sign-in option requires. Verify your address there and try again.",
        ));
    }
    if !contains_domain(&policy.allowed_email_domains, &domain) {
        return Err(Denial::new(
            "email_domain",
            format!(
                "Accounts with addresses at {domain} cannot sign in here: this sign-in option \
                 is only open to addresses at {list}."
            ),
        ));
    }
    Ok(())
}

fn push_unique(out: &mut Vec<String>, name: &str) {
    if !out.iter().any(|g| g.eq_ignore_ascii_case(name)) {
        out.push(name.to_owned());
    }
}

/// The usher group names this identity should be in.
fn mapped_groups(policy: &JitPolicy, claims: &Map<String, Value>) -> Result<Vec<String>, Denial> {
    let mapping = &policy.groups;
    let mut out = Vec::new();
    for name in &mapping.default_groups {
        push_unique(&mut out, name);
    }
    for upstream in policy.mapping.groups.eval_many(claims) {
        let target = mapping
            .map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&upstream))
            .map(|(_, v)| v.clone());
        match target {
            Some(t) => push_unique(&mut out, &t),
            None if mapping.pass_unmapped => push_unique(&mut out, &upstream),
            None => {}
        }
        if out.len() > MAX_MAPPED_GROUPS {
            return Err(Denial::new(
                "too_many_groups",
                format!(
                    "The identity provider put you in more than {MAX_MAPPED_GROUPS} groups, \
                     more than usher accepts from one sign-in. Ask your administrator to \
                     narrow the group mapping."
                ),
            ));
        }
    }
    Ok(out)
}

/// Groups to join and (with `remove`) to leave, compared case-insensitively.
fn group_delta(
    policy: &JitPolicy,
    desired: &[String],
    current: &[String],
    remove: bool,
) -> (Vec<String>, Vec<String>) {
    let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<BTreeSet<_>>();
    let (want, have) = (lower(desired), lower(current));
    let managed = lower(&policy.groups.managed);
    let add = desired
        .iter()
        .filter(|g| !have.contains(&g.to_lowercase()))
        .cloned()
        .collect();
    let leave = if remove {
        current
            .iter()
            .filter(|g| {
                let g = g.to_lowercase();
                !want.contains(&g) && (managed.is_empty() || managed.contains(&g))
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    (add, leave)
}

fn mapped_attributes(
    policy: &JitPolicy,
    claims: &Map<String, Value>,
    mut base: Map<String, Value>,
) -> Map<String, Value> {
    for (name, template) in &policy.mapping.attributes {
        match template.eval_one(claims) {
            Some(v) => base.insert(name.clone(), Value::String(v)),
            None => base.remove(name),
        };
    }
    base
}

/// The changes `force` sync makes: only fields the upstream asserts, only when
/// they differ (an absent claim never clears a field).
fn field_update(
    policy: &JitPolicy,
    identity: &ExternalIdentity,
    user: &User,
    email: Option<&str>,
) -> UserUpdate {
    let claims = &identity.attributes;
    let m = &policy.mapping;
    let mut update = UserUpdate::default();
    if let Some(name) = m.username.eval_one(claims)
        && name != user.username
    {
        update.username = Some(name);
    }
    if let Some(address) = email {
        let same = user.primary_email().is_some_and(|e| {
            normalize_email(&e.address) == normalize_email(address)
                && e.verified == identity.email_verified
        });
        if !same {
            update.emails = Some(vec![Email::new(address, identity.email_verified, true)]);
        }
    }
    let set = |value: Option<String>, current: &Option<String>| {
        value.filter(|v| Some(v) != current.as_ref()).map(Some)
    };
    update.display_name = set(m.display_name.eval_one(claims), &user.display_name);
    update.given_name = set(m.given_name.eval_one(claims), &user.given_name);
    update.family_name = set(m.family_name.eval_one(claims), &user.family_name);
    if !m.attributes.is_empty() {
        let attrs = mapped_attributes(policy, claims, user.attributes.clone());
        if attrs != user.attributes {
            update.attributes = Some(attrs);
        }
    }
    update
}
