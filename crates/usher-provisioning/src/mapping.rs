//! An usher user (or group) as one app should hold it: the app's attribute
//! mapping, in the same `{claim|transform}` language (and implementation) as the
//! JIT policy, evaluated over the user instead of an upstream's claims.
//!
//! What the templates see (docs/provisioning.md lists it for administrators):
//! `id`, `username`, `display_name`, `given_name`, `family_name`, `email` (the
//! primary address), `emails` (all), `external_id` (the id the user's SCIM source
//! gave it), `groups` (names) and every free attribute of the user under its own
//! name (an attribute never hides one of the names above).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use usher_connector::{Email, GroupRecord, UserRecord};
use usher_core::jit::Template;
use usher_core::outbound::ProvisioningSettings;
use usher_core::{Group, User};

/// The record fields a mapping may set by name; any other target field becomes an
/// extra attribute (`title`, an enterprise-extension path).
const USER_NAME: &str = "user_name";
const DISPLAY_NAME: &str = "display_name";
const GIVEN_NAME: &str = "given_name";
const FAMILY_NAME: &str = "family_name";
const EMAIL: &str = "email";

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
            let template = Template::parse(source).map_err(|e| format!("mapping.{field}: {e}"))?;
            fields.insert(field.clone(), template);
        }
        Ok(Self { fields })
    }

    /// The account `user` should have. Unmapped fields take the user's own
    /// values; a mapped field that comes out empty falls back the same way (the
    /// login name never ends up empty). `external_id` is always usher's id: it is
    /// what makes a retried create find the first one.
    pub fn user(&self, user: &User, groups: &[String]) -> UserRecord {
        let claims = claims(user, groups);
        let eval = |field: &str| self.fields.get(field).and_then(|t| t.eval_one(&claims));
        let mut record = UserRecord::new(
            user.id.to_string(),
            eval(USER_NAME).unwrap_or_else(|| user.username.clone()),
        );
        record.display_name = eval(DISPLAY_NAME).or_else(|| user.display_name.clone());
        record.given_name = eval(GIVEN_NAME).or_else(|| user.given_name.clone());
        record.family_name = eval(FAMILY_NAME).or_else(|| user.family_name.clone());
        record.emails = match eval(EMAIL) {
            Some(address) => vec![Email::new(address, true)],
            None => user
                .emails
                .iter()
                .map(|e| Email::new(e.address.clone(), e.primary))
                .collect(),
        };
        record.active = user.active;
        for (field, template) in &self.fields {
            if [USER_NAME, DISPLAY_NAME, GIVEN_NAME, FAMILY_NAME, EMAIL].contains(&field.as_str()) {
                continue;
            }
            if let Some(value) = template.eval_one(&claims) {
                record.attributes.insert(field.clone(), value);
            }
        }
        record
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
        let r = mapping(&[]).user(&u, &[]);
        assert_eq!(r.external_id, u.id.to_string());
        assert_eq!(r.user_name, "ada");
        assert_eq!(r.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(r.primary_email(), Some("Ada@Example.com"));
        assert_eq!(r.emails.len(), 2);
        assert!(r.active);
        assert!(r.attributes.is_empty());
    }

    #[test]
    fn templates_and_transforms_fill_fields_and_extra_attributes() {
        let m = mapping(&[
            ("user_name", "{email|lower}"),
            ("title", "{department}"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "{groups|join(\",\")}",
            ),
        ]);
        let r = m.user(&user(), &["crm-users".into(), "staff".into()]);
        assert_eq!(r.user_name, "ada@example.com");
        assert_eq!(r.attributes["title"], "Engineering");
        assert_eq!(
            r.attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"],
            "crm-users,staff"
        );
    }

    #[test]
    fn a_free_attribute_cannot_hide_a_fixed_name() {
        let r = mapping(&[("user_name", "{username}")]).user(&user(), &[]);
        assert_eq!(r.user_name, "ada", "not the attribute named username");
    }

    #[test]
    fn an_empty_mapped_login_name_falls_back_to_the_username() {
        let r = mapping(&[("user_name", "{nosuchclaim}")]).user(&user(), &[]);
        assert_eq!(r.user_name, "ada");
    }

    #[test]
    fn a_deactivated_user_maps_to_an_inactive_account() {
        let mut u = user();
        u.active = false;
        assert!(!mapping(&[]).user(&u, &[]).active);
    }
}
