//! The JIT rules, one test per rule.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::json;
use time::OffsetDateTime;

use super::*;
use crate::{Email, ExternalIdentity, UpstreamId, UpstreamKind, User, UserId, UserUpdate};

fn identity(claims: serde_json::Value, verified: bool) -> ExternalIdentity {
    let attributes = claims.as_object().cloned().unwrap_or_default();
    ExternalIdentity {
        upstream: UpstreamId::parse("corp").expect("id"),
        kind: UpstreamKind::Oidc,
        subject: "sub-1".into(),
        email: attributes
            .get("email")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        email_verified: verified,
        attributes,
        authn_methods: vec![],
        upstream_session: None,
    }
}

fn alice() -> ExternalIdentity {
    identity(
        json!({
            "preferred_username": "Alice",
            "email": "alice@example.com",
            "name": "Alice Example",
            "groups": ["eng", "ops", "Secret-Admins"],
            "department": "R&D",
            "oid": "00000000-0000-0000-0000-00000000a11c",
        }),
        true,
    )
}

fn user(name: &str, email: &str, active: bool) -> User {
    let now = OffsetDateTime::UNIX_EPOCH;
    User {
        id: UserId::new(),
        username: name.into(),
        emails: vec![Email::new(email, true, true)],
        display_name: None,
        given_name: None,
        family_name: None,
        active,
        external_id: None,
        attributes: serde_json::Map::new(),
        created_at: now,
        updated_at: now,
        version: 1,
        provisioned_by: None,
    }
}

fn policy() -> JitPolicy {
    let mut p = JitPolicy::default();
    p.mapping.username = Template::parse("{preferred_username|lower}").expect("t");
    p.mapping.attributes = BTreeMap::from([(
        "department".to_owned(),
        Template::parse("{department}").expect("t"),
    )]);
    p.groups.map = BTreeMap::from([
        ("eng".to_owned(), "engineering".to_owned()),
        ("ops".to_owned(), "operations".to_owned()),
    ]);
    p.groups.default_groups = vec!["staff".into()];
    p.trusted_domains = vec!["example.com".into()];
    p
}

fn enabled() -> Known {
    Known {
        upstream_enabled: true,
        ..Known::default()
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

#[test]
fn first_login_creates_the_user_with_mapped_fields_and_groups() {
    let plan = decide(&policy(), &alice(), ip("10.0.0.1"), &enabled()).expect("allowed");
    let PlanAction::Create(new) = &plan.action else {
        panic!("{plan:?}")
    };
    assert_eq!(new.username, "alice");
    assert_eq!(
        new.emails,
        vec![Email::new("alice@example.com", true, true)]
    );
    assert_eq!(new.display_name.as_deref(), Some("Alice Example"));
    assert_eq!(new.attributes["department"], "R&D");
    // Unmapped upstream groups are dropped unless pass_unmapped.
    assert_eq!(plan.add_groups, ["staff", "engineering", "operations"]);
    let mut p = policy();
    p.groups.pass_unmapped = true;
    let plan = decide(&p, &alice(), None, &enabled()).expect("allowed");
    assert!(plan.add_groups.contains(&"Secret-Admins".to_owned()));
}

#[test]
fn a_disabled_upstream_denies() {
    let denial = decide(&policy(), &alice(), None, &Known::default()).expect_err("denied");
    assert_eq!(denial.code, "upstream_disabled");
}

#[test]
fn an_email_domain_outside_the_allow_list_denies() {
    let mut p = policy();
    p.allowed_email_domains = vec!["corp.example".into()];
    let denial = decide(&p, &alice(), None, &enabled()).expect_err("denied");
    assert_eq!(denial.code, "email_domain");
    assert!(denial.message.contains("example.com") && denial.message.contains("corp.example"));
    // Case and a trailing dot do not matter.
    p.allowed_email_domains = vec!["EXAMPLE.com.".into()];
    decide(&p, &alice(), None, &enabled()).expect("allowed");
    // No email at all is a denial too.
    let no_email = identity(json!({"preferred_username": "x"}), false);
    assert_eq!(
        decide(&p, &no_email, None, &enabled())
            .expect_err("denied")
            .code,
        "email_domain"
    );
    // A look-alike suffix is not the domain.
    let evil = identity(
        json!({"preferred_username": "x", "email": "x@evilexample.com"}),
        true,
    );
    assert!(decide(&p, &evil, None, &enabled()).is_err());
    p.require_verified_email = true;
    let unverified = identity(
        json!({"preferred_username": "x", "email": "x@example.com"}),
        false,
    );
    assert_eq!(
        decide(&p, &unverified, None, &enabled())
            .expect_err("denied")
            .code,
        "email_unverified"
    );
}

#[test]
fn a_client_outside_the_allowed_networks_denies() {
    let mut p = policy();
    p.allowed_networks = vec!["10.0.0.0/8".parse().expect("net")];
    decide(&p, &alice(), ip("10.1.2.3"), &enabled()).expect("inside");
    // An IPv4-mapped IPv6 address is the IPv4 address.
    decide(&p, &alice(), ip("::ffff:10.1.2.3"), &enabled()).expect("mapped");
    let denial = decide(&p, &alice(), ip("192.0.2.7"), &enabled()).expect_err("outside");
    assert_eq!(denial.code, "network");
    assert!(denial.message.contains("192.0.2.7"));
    assert_eq!(
        decide(&p, &alice(), None, &enabled())
            .expect_err("unknown")
            .code,
        "network"
    );
}

#[test]
fn a_deactivated_linked_user_is_denied() {
    let known = Known {
        upstream_enabled: true,
        linked: Some((user("alice", "alice@example.com", false), vec![])),
        by_email: None,
        ..Known::default()
    };
    assert_eq!(
        decide(&policy(), &alice(), None, &known)
            .expect_err("denied")
            .code,
        "deactivated"
    );
}

#[test]
fn import_sync_changes_nothing_on_later_logins() {
    let u = user("old-name", "old@example.com", true);
    let known = Known {
        upstream_enabled: true,
        linked: Some((u.clone(), vec!["legacy".into()])),
        by_email: None,
        ..Known::default()
    };
    let plan = decide(&policy(), &alice(), None, &known).expect("allowed");
    assert_eq!(
        plan.action,
        PlanAction::SignIn {
            user: u.id,
            update: UserUpdate::default()
        }
    );
    assert!(plan.changes_nothing());
}

#[test]
fn force_sync_updates_fields_and_removes_unasserted_groups() {
    let mut p = policy();
    p.sync = SyncMode::Force;
    let u = user("old-name", "old@example.com", true);
    let known = Known {
        upstream_enabled: true,
        linked: Some((
            u,
            vec!["staff".into(), "Engineering".into(), "legacy".into()],
        )),
        by_email: None,
        ..Known::default()
    };
    let plan = decide(&p, &alice(), None, &known).expect("allowed");
    let PlanAction::SignIn { update, .. } = &plan.action else {
        panic!("{plan:?}")
    };
    assert_eq!(update.username.as_deref(), Some("alice"));
    assert_eq!(update.display_name, Some(Some("Alice Example".into())));
    assert!(update.emails.is_some());
    assert_eq!(plan.add_groups, ["operations"]);
    assert_eq!(plan.remove_groups, ["legacy"]);
    // With a managed list, only those memberships are touched.
    p.groups.managed = vec!["engineering".into(), "operations".into()];
    let plan = decide(&p, &alice(), None, &known).expect("allowed");
    assert!(plan.remove_groups.is_empty());
}

#[test]
fn linking_by_email_needs_the_flag_a_verified_address_and_a_trusted_domain() {
    let existing = user("alice", "alice@example.com", true);
    let known = Known {
        upstream_enabled: true,
        linked: None,
        by_email: Some((existing.clone(), vec![])),
        ..Known::default()
    };
    // Off by default.
    let denial = decide(&policy(), &alice(), None, &known).expect_err("denied");
    assert_eq!(denial.code, "email_taken");
    let mut p = policy();
    p.link_by_verified_email = true;
    let plan = decide(&p, &alice(), None, &known).expect("linked");
    assert!(matches!(plan.action, PlanAction::Link { user, .. } if user == existing.id));
    // email_verified absent or false.
    let unverified = ExternalIdentity {
        email_verified: false,
        ..alice()
    };
    let denial = decide(&p, &unverified, None, &known).expect_err("denied");
    assert!(denial.message.contains("verified"), "{}", denial.message);
    // A domain the upstream is not trusted for.
    p.trusted_domains = vec!["corp.example".into()];
    assert_eq!(
        decide(&p, &alice(), None, &known).expect_err("denied").code,
        "email_taken"
    );
}

#[test]
fn a_user_provisioned_by_scim_is_linked_by_external_id_not_duplicated() {
    // Entra ID pushes the user by SCIM with externalId = its object id; the same
    // person then signs in through Entra ID, whose id_token carries `oid`.
    let provisioned = user("alice", "alice@example.com", true);
    let known = Known {
        upstream_enabled: true,
        by_external_id: Some((provisioned.clone(), vec!["staff".into()])),
        ..Known::default()
    };
    let mut p = policy();
    p.link_by_external_id =
        Some(ExternalIdLink::new(Template::parse("{oid}").expect("t"), "entra").expect("rule"));
    p.create = false;
    let plan = decide(&p, &alice(), None, &known).expect("linked");
    assert!(matches!(plan.action, PlanAction::Link { user, .. } if user == provisioned.id));
    // Deactivated by SCIM: no sign-in through any upstream.
    let gone = Known {
        by_external_id: Some((user("alice", "alice@example.com", false), vec![])),
        ..known
    };
    assert_eq!(
        decide(&p, &alice(), None, &gone).expect_err("denied").code,
        "deactivated"
    );
}

#[test]
fn link_by_external_id_links_only_users_its_scim_client_pushed() {
    let rule = ExternalIdLink::new(Template::parse("{oid}").expect("t"), "entra").expect("rule");
    assert_eq!(rule.scim_client(), "entra");
    let mut u = user("alice", "alice@example.com", true);
    u.external_id = Some("00000000-0000-0000-0000-00000000a11c".into());
    u.provisioned_by = Some("entra".into());
    assert!(rule.may_link(&u));
    // Pushed by another SCIM client (a partner's), or not pushed at all.
    u.provisioned_by = Some("partner-scim".into());
    assert!(!rule.may_link(&u));
    u.provisioned_by = None;
    assert!(!rule.may_link(&u));
    for bad in ["", "two words", "entra/prod", &"x".repeat(65)] {
        assert!(
            ExternalIdLink::new(Template::parse("{oid}").expect("t"), bad).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn no_creation_when_create_is_off() {
    let mut p = policy();
    p.create = false;
    assert_eq!(
        decide(&p, &alice(), None, &enabled())
            .expect_err("denied")
            .code,
        "not_provisioned"
    );
}

#[test]
fn username_falls_back_to_the_email_and_otherwise_denies() {
    let only_email = identity(json!({"email": "bob@example.com"}), true);
    let plan = decide(&policy(), &only_email, None, &enabled()).expect("allowed");
    assert!(matches!(&plan.action, PlanAction::Create(n) if n.username == "bob@example.com"));
    let nothing = identity(json!({}), false);
    assert_eq!(
        decide(&policy(), &nothing, None, &enabled())
            .expect_err("denied")
            .code,
        "no_username"
    );
}

#[test]
fn too_many_groups_deny() {
    let mut p = policy();
    p.groups.pass_unmapped = true;
    let groups: Vec<String> = (0..500).map(|i| format!("g{i}")).collect();
    let flood = identity(json!({"preferred_username": "x", "groups": groups}), true);
    assert_eq!(
        decide(&p, &flood, None, &enabled())
            .expect_err("denied")
            .code,
        "too_many_groups"
    );
}
