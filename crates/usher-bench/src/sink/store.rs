//! One tenant's resources, counts and arrival times, behind the tenant's lock.
//! Everything is in memory and indexed by what the connector looks up
//! (`userName`, `externalId`, `emails.value`), so a lookup costs the same with
//! 10 or 10,000 accounts and the sink stays cheap next to usher.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::filter::{self, Equals};
use super::patch;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Pages hold at most this many resources.
const MAX_PAGE: usize = 1000;

/// A refusal: status, `scimType`, detail (RFC 7644 §3.12).
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl Failure {
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self {
            status: 404,
            scim_type: None,
            detail: format!("no {what} {id:?}"),
        }
    }

    fn uniqueness(detail: String) -> Self {
        Self {
            status: 409,
            scim_type: Some("uniqueness"),
            detail,
        }
    }

    /// The RFC 7644 §3.12 error document.
    pub fn document(&self) -> Value {
        let mut doc = json!({
            "schemas": [ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            doc["scimType"] = json!(t);
        }
        doc
    }
}

/// What the sink counts, per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `GET /ServiceProviderConfig`.
    Discovery,
    /// `POST /Users`.
    CreateUser,
    /// `GET /Users?filter=...`.
    FindUsers,
    /// `GET /Users` without a filter.
    ListUsers,
    /// `GET /Users/{id}`.
    GetUser,
    /// `PUT /Users/{id}`.
    PutUser,
    /// `PATCH /Users/{id}`.
    PatchUser,
    /// `DELETE /Users/{id}`.
    DeleteUser,
    /// `POST /Groups`.
    CreateGroup,
    /// `GET /Groups` with or without a filter.
    ListGroups,
    /// `GET /Groups/{id}`.
    GetGroup,
    /// `PUT /Groups/{id}`.
    PutGroup,
    /// `PATCH /Groups/{id}`.
    PatchGroup,
    /// `DELETE /Groups/{id}`.
    DeleteGroup,
    /// A request without the right bearer token.
    Unauthorized,
}

impl Op {
    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::CreateUser => "create user",
            Self::FindUsers => "find user",
            Self::ListUsers => "list users",
            Self::GetUser => "get user",
            Self::PutUser => "put user",
            Self::PatchUser => "patch user",
            Self::DeleteUser => "delete user",
            Self::CreateGroup => "create group",
            Self::ListGroups => "list groups",
            Self::GetGroup => "get group",
            Self::PutGroup => "put group",
            Self::PatchGroup => "patch group",
            Self::DeleteGroup => "delete group",
            Self::Unauthorized => "unauthorized",
        }
    }
}

/// When things happened to one `externalId`, as the sink received them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Arrivals {
    /// Creates accepted for this externalId (more than one is a duplicate).
    pub creates: u32,
    /// When the first create arrived.
    pub created: Option<Instant>,
    /// When the latest change from active to inactive arrived (PATCH or PUT).
    pub deactivated: Option<Instant>,
    /// When the account was deleted.
    pub deleted: Option<Instant>,
}

/// One tenant (`/app1/v2`): its users and groups, its counts and arrivals.
#[derive(Debug)]
pub(super) struct Tenant {
    /// The tenant's base URL, for `meta.location`.
    base: String,
    next_id: u64,
    users: BTreeMap<u64, Map<String, Value>>,
    by_user_name: HashMap<String, u64>,
    by_external_id: HashMap<String, u64>,
    by_email: HashMap<String, BTreeSet<u64>>,
    groups: BTreeMap<u64, Map<String, Value>>,
    pub counts: BTreeMap<Op, u64>,
    pub arrivals: HashMap<String, Arrivals>,
    /// Creates refused because the userName was taken (RFC 7644 §3.3: 409).
    pub conflicts: u64,
    /// Distinct externalIds created at least once.
    pub created: usize,
    /// Creates accepted for an externalId that had been created before.
    pub repeated_creates: u64,
    /// When the latest first create of an externalId arrived.
    pub last_created: Option<Instant>,
}

/// A listing page's bounds (RFC 7644 §3.4.2.4): 1-based start, count.
#[derive(Debug, Clone, Copy)]
pub(super) struct Paging {
    pub start: usize,
    pub count: usize,
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

/// `active`, true unless said otherwise.
fn active(doc: &Map<String, Value>) -> bool {
    doc.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("active"))
        .and_then(|(_, v)| v.as_bool())
        .unwrap_or(true)
}

fn emails(doc: &Map<String, Value>) -> Vec<String> {
    doc.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("emails"))
        .and_then(|(_, v)| v.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn parse_id(id: &str, what: &str) -> Result<u64, Failure> {
    id.parse().map_err(|_| Failure::not_found(what, id))
}

/// The body as an object with a string `key`, without what the server sets.
fn resource(body: &Value, key: &str) -> Result<Map<String, Value>, Failure> {
    let Value::Object(doc) = body else {
        return Err(Failure::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    let mut doc = doc.clone();
    doc.retain(|k, _| !k.eq_ignore_ascii_case("id") && !k.eq_ignore_ascii_case("meta"));
    check(&doc, key)?;
    Ok(doc)
}

fn check(doc: &Map<String, Value>, key: &str) -> Result<(), Failure> {
    if text(doc, key).is_none_or(|v| v.trim().is_empty()) {
        return Err(Failure::bad("invalidValue", format!("{key} is required")));
    }
    let emails_ok = doc
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("emails"))
        .is_none_or(|(_, v)| v.is_array());
    if !emails_ok {
        return Err(Failure::bad("invalidValue", "emails must be an array"));
    }
    Ok(())
}

impl Tenant {
    pub fn new(base: String) -> Self {
        Self {
            base,
            next_id: 1,
            users: BTreeMap::new(),
            by_user_name: HashMap::new(),
            by_external_id: HashMap::new(),
            by_email: HashMap::new(),
            groups: BTreeMap::new(),
            counts: BTreeMap::new(),
            arrivals: HashMap::new(),
            conflicts: 0,
            created: 0,
            repeated_creates: 0,
            last_created: None,
        }
    }

    /// Accounts held now.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    fn rendered(&self, id: u64, doc: &Map<String, Value>, kind: &str) -> Value {
        let mut out = doc.clone();
        if !out.contains_key("schemas") {
            let schema = if kind == "User" { USER } else { GROUP };
            out.insert("schemas".into(), json!([schema]));
        }
        out.insert("id".into(), json!(id.to_string()));
        out.insert(
            "meta".into(),
            json!({"resourceType": kind, "location": format!("{}/{kind}s/{id}", self.base)}),
        );
        Value::Object(out)
    }

    fn index(&mut self, id: u64, doc: &Map<String, Value>) {
        if let Some(name) = text(doc, "userName") {
            self.by_user_name.insert(name.to_lowercase(), id);
        }
        if let Some(ext) = text(doc, "externalId") {
            self.by_external_id.insert(ext.to_owned(), id);
        }
        for email in emails(doc) {
            self.by_email.entry(email).or_default().insert(id);
        }
    }

    fn unindex(&mut self, id: u64, doc: &Map<String, Value>) {
        if let Some(name) = text(doc, "userName") {
            self.by_user_name.remove(&name.to_lowercase());
        }
        if let Some(ext) = text(doc, "externalId")
            && self.by_external_id.get(ext) == Some(&id)
        {
            self.by_external_id.remove(ext);
        }
        for email in emails(doc) {
            if let Some(ids) = self.by_email.get_mut(&email) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_email.remove(&email);
                }
            }
        }
    }

    /// The userName is free, or held by `except`.
    fn user_name_free(&self, doc: &Map<String, Value>, except: Option<u64>) -> Result<(), Failure> {
        let name = text(doc, "userName").unwrap_or_default();
        match self.by_user_name.get(&name.to_lowercase()) {
            Some(holder) if Some(*holder) != except => {
                Err(Failure::uniqueness(format!("userName {name:?} is taken")))
            }
            _ => Ok(()),
        }
    }

    pub fn create_user(&mut self, body: &Value, now: Instant) -> Result<Value, Failure> {
        let mut doc = resource(body, "userName")?;
        if let Err(e) = self.user_name_free(&doc, None) {
            self.conflicts += 1;
            return Err(e);
        }
        if !doc.keys().any(|k| k.eq_ignore_ascii_case("active")) {
            doc.insert("active".into(), json!(true));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.index(id, &doc);
        if let Some(ext) = text(&doc, "externalId") {
            let a = self.arrivals.entry(ext.to_owned()).or_default();
            a.creates += 1;
            a.created.get_or_insert(now);
            if a.creates == 1 {
                self.created += 1;
                self.last_created = Some(now);
            } else {
                self.repeated_creates += 1;
            }
        }
        let out = self.rendered(id, &doc, "User");
        self.users.insert(id, doc);
        Ok(out)
    }

    pub fn get_user(&self, id: &str) -> Result<Value, Failure> {
        let n = parse_id(id, "user")?;
        let doc = self
            .users
            .get(&n)
            .ok_or_else(|| Failure::not_found("user", id))?;
        Ok(self.rendered(n, doc, "User"))
    }

    /// Replaces user `id` by what `change` makes of a copy of it.
    fn change_user(
        &mut self,
        id: &str,
        now: Instant,
        change: impl FnOnce(&Map<String, Value>) -> Result<Map<String, Value>, Failure>,
    ) -> Result<Value, Failure> {
        let n = parse_id(id, "user")?;
        let old = self
            .users
            .get(&n)
            .ok_or_else(|| Failure::not_found("user", id))?;
        let new = change(old)?;
        check(&new, "userName")?;
        self.user_name_free(&new, Some(n))?;
        let was_active = active(old);
        let old = old.clone();
        self.unindex(n, &old);
        self.index(n, &new);
        if was_active
            && !active(&new)
            && let Some(ext) = text(&new, "externalId")
        {
            self.arrivals.entry(ext.to_owned()).or_default().deactivated = Some(now);
        }
        let out = self.rendered(n, &new, "User");
        self.users.insert(n, new);
        Ok(out)
    }

    pub fn put_user(&mut self, id: &str, body: &Value, now: Instant) -> Result<Value, Failure> {
        let new = resource(body, "userName")?;
        self.change_user(id, now, |_| Ok(new))
    }

    pub fn patch_user(&mut self, id: &str, body: &Value, now: Instant) -> Result<Value, Failure> {
        self.change_user(id, now, |old| {
            let mut doc = old.clone();
            patch::apply(&mut doc, body)?;
            Ok(doc)
        })
    }

    pub fn delete_user(&mut self, id: &str, now: Instant) -> Result<(), Failure> {
        let n = parse_id(id, "user")?;
        let doc = self
            .users
            .remove(&n)
            .ok_or_else(|| Failure::not_found("user", id))?;
        self.unindex(n, &doc);
        if let Some(ext) = text(&doc, "externalId") {
            self.arrivals.entry(ext.to_owned()).or_default().deleted = Some(now);
        }
        Ok(())
    }

    /// `GET /Users`, with `filter=attr eq "value"` on userName, externalId, id or
    /// emails(.value).
    pub fn list_users(&self, filter: Option<&str>, page: Paging) -> Result<Value, Failure> {
        let ids: Vec<u64> = match filter {
            None => self.users.keys().copied().collect(),
            Some(f) => self.matching_users(&filter::parse(f)?)?,
        };
        Ok(self.page(&ids, page, |id| {
            self.users.get(&id).map(|d| self.rendered(id, d, "User"))
        }))
    }

    fn matching_users(&self, f: &Equals) -> Result<Vec<u64>, Failure> {
        let found = match f.attr.as_str() {
            "username" => self
                .by_user_name
                .get(&f.value.to_lowercase())
                .copied()
                .into_iter()
                .collect(),
            "externalid" => self
                .by_external_id
                .get(&f.value)
                .copied()
                .into_iter()
                .collect(),
            "emails" | "emails.value" => self
                .by_email
                .get(&f.value.to_lowercase())
                .map(|ids| ids.iter().copied().collect())
                .unwrap_or_default(),
            "id" => f
                .value
                .parse()
                .ok()
                .filter(|n| self.users.contains_key(n))
                .into_iter()
                .collect(),
            other => {
                return Err(Failure::bad(
                    "invalidFilter",
                    format!(
                        "the sink filters users on userName, externalId, emails and id, not {other}"
                    ),
                ));
            }
        };
        Ok(found)
    }

    fn page(&self, ids: &[u64], page: Paging, render: impl Fn(u64) -> Option<Value>) -> Value {
        let start = page.start.max(1);
        let resources: Vec<Value> = ids
            .iter()
            .skip(start - 1)
            .take(page.count.min(MAX_PAGE))
            .filter_map(|id| render(*id))
            .collect();
        json!({
            "schemas": [LIST],
            "totalResults": ids.len(),
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        })
    }

    pub fn create_group(&mut self, body: &Value) -> Result<Value, Failure> {
        let doc = resource(body, "displayName")?;
        let id = self.next_id;
        self.next_id += 1;
        let out = self.rendered(id, &doc, "Group");
        self.groups.insert(id, doc);
        Ok(out)
    }

    pub fn get_group(&self, id: &str) -> Result<Value, Failure> {
        let n = parse_id(id, "group")?;
        let doc = self
            .groups
            .get(&n)
            .ok_or_else(|| Failure::not_found("group", id))?;
        Ok(self.rendered(n, doc, "Group"))
    }

    pub fn put_group(&mut self, id: &str, body: &Value) -> Result<Value, Failure> {
        let new = resource(body, "displayName")?;
        self.change_group(id, |_| Ok(new))
    }

    pub fn patch_group(&mut self, id: &str, body: &Value) -> Result<Value, Failure> {
        self.change_group(id, |old| {
            let mut doc = old.clone();
            patch::apply(&mut doc, body)?;
            Ok(doc)
        })
    }

    fn change_group(
        &mut self,
        id: &str,
        change: impl FnOnce(&Map<String, Value>) -> Result<Map<String, Value>, Failure>,
    ) -> Result<Value, Failure> {
        let n = parse_id(id, "group")?;
        let old = self
            .groups
            .get(&n)
            .ok_or_else(|| Failure::not_found("group", id))?;
        let new = change(old)?;
        check(&new, "displayName")?;
        let out = self.rendered(n, &new, "Group");
        self.groups.insert(n, new);
        Ok(out)
    }

    pub fn delete_group(&mut self, id: &str) -> Result<(), Failure> {
        let n = parse_id(id, "group")?;
        self.groups
            .remove(&n)
            .map(|_| ())
            .ok_or_else(|| Failure::not_found("group", id))
    }

    /// `GET /Groups`, with `filter=attr eq "value"` on displayName, externalId or
    /// id (a scan: a benchmark has few groups).
    pub fn list_groups(&self, filter: Option<&str>, page: Paging) -> Result<Value, Failure> {
        let f = filter.map(filter::parse).transpose()?;
        if let Some(f) = &f
            && !["displayname", "externalid", "id"].contains(&f.attr.as_str())
        {
            return Err(Failure::bad(
                "invalidFilter",
                format!(
                    "the sink filters groups on displayName, externalId and id, not {}",
                    f.attr
                ),
            ));
        }
        let ids: Vec<u64> = self
            .groups
            .iter()
            .filter(|(id, doc)| match &f {
                None => true,
                Some(f) if f.attr == "id" => f.value == id.to_string(),
                Some(f) if f.attr == "displayname" => {
                    text(doc, "displayName").is_some_and(|v| v.eq_ignore_ascii_case(&f.value))
                }
                Some(f) => text(doc, "externalId") == Some(f.value.as_str()),
            })
            .map(|(id, _)| *id)
            .collect();
        Ok(self.page(&ids, page, |id| {
            self.groups.get(&id).map(|d| self.rendered(id, d, "Group"))
        }))
    }
}

/// `ServiceProviderConfig` (RFC 7643 §5): PATCH and filters, no bulk, no sort, no
/// ETags, bearer tokens.
pub(super) fn service_provider_config() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "Authorization: Bearer <token>",
        }],
    })
}
