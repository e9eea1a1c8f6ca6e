//! An usher user (or group) as one app should hold it: the app's attribute
//! mapping, in the same `{claim|transform}` language (and implementation) as the
//! JIT policy, evaluated over the user instead of an upstream's claims.
//!
//! What the templates see (docs/provisioning.md lists it for administrators):
//! `id`, `username`, `display_name`, `given_name`, `family_name`, `email` (the
//! primary address), `emails` (all), `external_id` (the id the user's SCIM source
//! gave it), `groups` (names) and every free attribute of the user under its own
//! name (an attribute never hides one of the names above).
//!
//! A field the mapping names is the mapping's to fill: when its template comes
//! out empty the field is left empty (`default("...")` gives a fallback), and an
//! empty login name is an error for that user alone. A field it does not name
//! takes the user's own value.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value as Json};
use usher_connector::{Email, GroupRecord, UserRecord};
use usher_core::jit::Template;
use usher_core::outbound::{ProvisioningSettings, RESERVED_MAPPING_FIELDS};
use usher_core::{Group, User};

/// The record fields a mapping may set by name; any other target field becomes an
/// extra attribute (`title`, an enterprise-extension path).
const USER_NAME: &str = "user_name";
const DISPLAY_NAME: &str = "display_name";
const GIVEN_NAME: &str = "given_name";
const FAMILY_NAME: &str = "family_name";
const EMAIL: &str = "email";
const RECORD_FIELDS: [&str; 5] = [USER_NAME, DISPLAY_NAME, GIVEN_NAME, FAMILY_NAME, EMAIL];

/// Why one user cannot be mapped for one app: the job is reported invalid for that
/// user, naming the field, and nothing is sent until the user or the mapping
/// changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// The target field (`user_name`).
    pub field: String,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mapping.{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for MappingError {}

/// An app's mapping, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    fields: BTreeMap<String, Template>,
}

impl Mapping {
    /// Parses the app's templates. They were checked when the app was built, so
    /// an error here means storage holds something it should not.
    pub fn new(settings: &ProvisioningSettings) -> Result<Self, String> {
        let mut fields = BTreeMap::new();
        for (field, source) in &settings.mapping {
            if RESERVED_MAPPING_FIELDS.contains(&field.as_str()) {
                return Err(format!("mapping.{field}: set by usher, not mappable"));
            }
            let template = Template::parse(source).map_err(|e| format!("mapping.{field}: {e}"))?;
            fields.insert(field.clone(), template);
        }
        Ok(Self { fields })
    }

    /// The account `user` (a member of `groups`, by name) should have.
    /// `external_id` is always usher's id (what makes a retried create find the
    /// first one) and `active` the user's own flag; see the module documentation
    /// for the rest.
    pub fn user(&self, user: &User, groups: &[String]) -> Result<UserRecord, MappingError> {
        let claims = claims(user, groups);
        // `Some(value)` when the mapping names the field (`value` may be empty).
        let mapped = |field: &str| self.fields.get(field).map(|t| t.eval_one(&claims));
        let user_name = match mapped(USER_NAME) {
            None => user.username.clone(),
            Some(Some(name)) => name,
            Some(None) => {
                return Err(MappingError {
                    field: USER_NAME.into(),
                    reason: format!(
                        "the template {:?} came out empty for {}, and an account needs a login name",
                        self.fields.get(USER_NAME).map_or("", |t| t.source()),
                        user.username
                    ),
                });
            }
        };
        let mut record = UserRecord::new(user.id.to_string(), user_name);
        record.display_name = mapped(DISPLAY_NAME).unwrap_or_else(|| user.display_name.clone());
        record.given_name = mapped(GIVEN_NAME).unwrap_or_else(|| user.given_name.clone());
        record.family_name = mapped(FAMILY_NAME).unwrap_or_else(|| user.family_name.clone());
        record.emails = match mapped(EMAIL) {
            Some(address) => address
                .map(|a| vec![Email::new(a, true)])
                .unwrap_or_default(),
            None => user
                .emails
                .iter()
                .map(|e| Email::new(e.address.clone(), e.primary))
                .collect(),
        };
        record.active = user.active;
        for (field, template) in &self.fields {
            if RECORD_FIELDS.contains(&field.as_str()) {
                continue;
            }
            if let Some(value) = template.eval_one(&claims) {
                record.attributes.insert(field.clone(), value);
            }
        }
        Ok(record)
    }

    /// The group as the app should hold it: usher's id as external id, its
    /// display name (or name).
    pub fn group(&self, group: &Group) -> GroupRecord {
        GroupRecord::new(
            group.id.to_string(),
            group
                .display_name
                .clone()
                .unwrap_or_else(|| group.name.clone()),
        )
    }
}

/// The names the templates see.
fn claims(user: &User, groups: &[String]) -> Map<String, Json> {
    let mut claims = Map::new();
    // Free attributes first, so the fixed names below win over a same-named one.
    for (key, value) in &user.attributes {
        claims.insert(key.clone(), value.clone());
    }
    let text = |v: &Option<String>| v.clone().map_or(Json::Null, Json::String);
    claims.insert("id".into(), Json::String(user.id.to_string()));
    claims.insert("username".into(), Json::String(user.username.clone()));
    claims.insert("display_name".into(), text(&user.display_name));
    claims.insert("given_name".into(), text(&user.given_name));
    claims.insert("family_name".into(), text(&user.family_name));
    let primary = user
        .emails
        .iter()
        .find(|e| e.primary)
        .or_else(|| user.emails.first())
        .map(|e| e.address.clone());
    claims.insert("email".into(), text(&primary));
    claims.insert(
        "emails".into(),
        Json::Array(
            user.emails
                .iter()
                .map(|e| Json::String(e.address.clone()))
                .collect(),
        ),
    );
    claims.insert("external_id".into(), text(&user.external_id));
    claims.insert(
        "groups".into(),
        Json::Array(groups.iter().cloned().map(Json::String).collect()),
    );
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let email = |address: &str, primary| usher_core::Email {
            address: address.into(),
            verified: true,
            primary,
            kind: None,
        };
        let mut attributes = Map::new();
        attributes.insert("department".into(), Json::String("Engineering".into()));
        attributes.insert("username".into(), Json::String("spoof".into()));
        User {
            id: usher_core::UserId::new(),
            username: "ada".into(),
            emails: vec![
                email("ada@home.example", false),
                email("Ada@Example.com", true),
            ],
            display_name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            active: true,
            external_id: Some("entra-oid-1".into()),
            attributes,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            version: 1,
            provisioned_by: None,
        }
    }

    fn mapping(pairs: &[(&str, &str)]) -> Mapping {
        let mut settings: ProvisioningSettings =
            serde_json::from_value(serde_json::json!({"connector": "scim"})).expect("settings");
        for (k, v) in pairs {
            settings.mapping.insert((*k).into(), (*v).into());
        }
        Mapping::new(&settings).expect("parses")
    }

    #[test]
    fn unmapped_fields_take_the_users_own_values() {
        let u = user();
        let r = mapping(&[]).user(&u, &[]).expect("maps");
        assert_eq!(r.external_id, u.id.to_string());
        assert_eq!(r.user_name, "ada");
        assert_eq!(r.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(r.given_name.as_deref(), Some("Ada"));
        assert_eq!(r.family_name.as_deref(), Some("Lovelace"));
        assert_eq!(r.primary_email(), Some("Ada@Example.com"));
        assert_eq!(r.emails.len(), 2);
        assert!(r.active);
        assert!(
            r.attributes.is_empty(),
            "free attributes are not sent unmapped"
        );
    }

    #[test]
    fn templates_and_transforms_fill_fields_and_extra_attributes() {
        let m = mapping(&[
            ("user_name", "{email|lower}"),
            ("display_name", "{family_name|upper}, {given_name}"),
            ("email", "{emails|first}"),
            ("title", "{department}"),
            ("employee", "{external_id|replace(\"^entra-oid-\", \"E\")}"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "{groups|join(\",\")}",
            ),
        ]);
        let u = user();
        let r = m
            .user(&u, &["crm-users".into(), "staff".into()])
            .expect("maps");
        assert_eq!(r.user_name, "ada@example.com");
        assert_eq!(r.display_name.as_deref(), Some("LOVELACE, Ada"));
        assert_eq!(r.emails, vec![Email::new("ada@home.example", true)]);
        assert_eq!(r.attributes["title"], "Engineering");
        assert_eq!(r.attributes["employee"], "E1");
        assert_eq!(
            r.attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"],
            "crm-users,staff"
        );
        assert_eq!(r.external_id, u.id.to_string(), "always usher's id");
    }

    #[test]
    fn a_free_attribute_cannot_hide_a_fixed_name() {
        let r = mapping(&[("user_name", "{username}")])
            .user(&user(), &[])
            .expect("maps");
        assert_eq!(r.user_name, "ada", "not the attribute named username");
    }

    #[test]
    fn an_empty_mapped_login_name_is_an_error_naming_the_field() {
        let err = mapping(&[("user_name", "{nosuchclaim}")])
            .user(&user(), &[])
            .expect_err("no login name");
        assert_eq!(err.field, "user_name");
        assert!(err.to_string().starts_with("mapping.user_name: "), "{err}");
        assert!(err.reason.contains("ada"), "names the user: {err}");
    }

    #[test]
    fn a_mapped_field_that_comes_out_empty_stays_empty() {
        let r = mapping(&[
            ("display_name", "{nickname}"),
            ("email", "{work_email}"),
            ("title", "{nosuch}"),
            ("given_name", "{nickname|default(\"friend\")}"),
        ])
        .user(&user(), &[])
        .expect("maps");
        assert_eq!(r.display_name, None, "not the user's own");
        assert!(r.emails.is_empty());
        assert!(!r.attributes.contains_key("title"));
        assert_eq!(r.given_name.as_deref(), Some("friend"));
    }

    #[test]
    fn usher_owned_fields_are_not_mappable() {
        for field in ["external_id", "active"] {
            let mut settings: ProvisioningSettings =
                serde_json::from_value(serde_json::json!({"connector": "scim"})).expect("settings");
            settings.mapping.insert(field.into(), "{username}".into());
            let err = Mapping::new(&settings).expect_err("refused");
            assert!(err.starts_with(&format!("mapping.{field}")), "{err}");
        }
    }

    #[test]
    fn a_deactivated_user_maps_to_an_inactive_account() {
        let mut u = user();
        u.active = false;
        assert!(!mapping(&[]).user(&u, &[]).expect("maps").active);
    }

    #[test]
    fn groups_carry_usher_ids_and_display_names() {
        let mut g = Group {
            id: usher_core::GroupId::new(),
            name: "crm-users".into(),
            display_name: None,
            external_id: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            version: 1,
            provisioned_by: None,
        };
        let r = mapping(&[]).group(&g);
        assert_eq!(r.external_id, g.id.to_string());
        assert_eq!(r.display_name, "crm-users");
        g.display_name = Some("CRM users".into());
        assert_eq!(mapping(&[]).group(&g).display_name, "CRM users");
    }
}
