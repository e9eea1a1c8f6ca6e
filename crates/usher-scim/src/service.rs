//! The resource operations behind both the HTTP handlers and Bulk: each checks
//! what the caller may see, turns SCIM into the core's types and makes one write
//! through the directory port (which stores the change, its outbox events and an
//! audit record in one transaction).

use serde_json::{Value, json};
use usher_core::query::{GroupQuery, GroupSort, Query, UserQuery, UserSort};
use usher_core::{
    Error as CoreError, Group, GroupChange, GroupId, GroupUpdate, NewGroup, NewUser, User, UserId,
    UserUpdate,
};
use uuid::Uuid;

use crate::query_map::{self, Origin};
use crate::state::{Caller, ScimState};
use usher_scim_model::doc::{self, Doc};
use usher_scim_model::error::{Result, ScimError};
use usher_scim_model::filter;
use usher_scim_model::patch;
use usher_scim_model::render::{self, Precondition, Projection};
use usher_scim_model::schema::{Kind, LIST};

/// Most members read into one group resource (and into a PATCH that needs the
/// whole list): larger groups are listed truncated, so clients should ask with
/// `excludedAttributes=members`, as Entra ID and Okta do.
pub const MAX_MEMBERS: u32 = 50_000;

/// Times a PATCH without `If-Match` is retried when someone else changed the
/// resource between its read and its write.
const PATCH_ATTEMPTS: usize = 5;

/// A list or search request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub filter: Option<String>,
    pub origin: Option<Origin>,
    pub sort_by: Option<String>,
    pub descending: bool,
    /// 1-based.
    pub start_index: u64,
    pub count: u32,
    pub projection: Projection,
}

fn parse_id(id: &str, what: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| ScimError::not_found(what, id))
}

fn check_precondition(pre: Option<&Precondition>, version: i64) -> Result<Option<i64>> {
    match pre {
        None => Ok(None),
        Some(p) if p.matches(version) => Ok(Some(version)),
        Some(_) => Err(ScimError::status(
            actix_web::http::StatusCode::PRECONDITION_FAILED.as_u16(),
            format!(
                "If-Match does not match the current version {}; read the resource again",
                render::etag(version)
            ),
        )),
    }
}

fn user_sort(name: &str) -> Result<Option<UserSort>> {
    Ok(Some(match name.to_ascii_lowercase().as_str() {
        "id" => return Ok(None),
        "username" => UserSort::Username,
        "displayname" => UserSort::DisplayName,
        "name.givenname" => UserSort::GivenName,
        "name.familyname" => UserSort::FamilyName,
        "externalid" => UserSort::ExternalId,
        "meta.created" => UserSort::Created,
        "meta.lastmodified" => UserSort::Modified,
        _ => {
            return Err(ScimError::value(format!(
                "sortBy {name:?}: usher sorts Users by id, userName, displayName, name.givenName, \
                 name.familyName, externalId, meta.created or meta.lastModified"
            )));
        }
    }))
}

fn group_sort(name: &str) -> Result<Option<GroupSort>> {
    Ok(Some(match name.to_ascii_lowercase().as_str() {
        "id" => return Ok(None),
        "displayname" => GroupSort::Name,
        "externalid" => GroupSort::ExternalId,
        "meta.created" => GroupSort::Created,
        "meta.lastmodified" => GroupSort::Modified,
        _ => {
            return Err(ScimError::value(format!(
                "sortBy {name:?}: usher sorts Groups by id, displayName, externalId, meta.created \
                 or meta.lastModified"
            )));
        }
    }))
}

fn list_response(resources: Vec<Value>, total: u64, start_index: u64) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

impl ScimState {
    fn base(&self) -> &str {
        &self.settings.base_url
    }

    // ----- Users -----

    /// The user with this id if the caller provisioned it; 404 otherwise, so a
    /// client cannot tell another source's users from absent ones.
    pub(crate) async fn visible_user(&self, caller: &Caller, id: &str) -> Result<User> {
        let uuid = parse_id(id, "User")?;
        match self.deps.directory.get_user(UserId(uuid)).await {
            Ok(u) if u.provisioned_by.as_deref() == Some(caller.name.as_str()) => Ok(u),
            Ok(_) | Err(CoreError::NotFound { .. }) => Err(ScimError::not_found("User", id)),
            Err(e) => Err(e.into()),
        }
    }

    /// A user's body.
    pub(crate) async fn user_resource(
        &self,
        caller: &Caller,
        u: &User,
        proj: &Projection,
    ) -> Result<Value> {
        let mut d = doc::user_doc(u);
        if !proj.skips(Kind::User, "groups") {
            let groups: Vec<Value> = self
                .deps
                .directory
                .groups_of(u.id)
                .await?
                .into_iter()
                .filter(|g| g.provisioned_by.as_deref() == Some(caller.name.as_str()))
                .map(|g| {
                    json!({
                        "value": g.id.to_string(),
                        "$ref": format!("{}/Groups/{}", self.base(), g.id),
                        "display": g.name,
                    })
                })
                .collect();
            if !groups.is_empty() {
                d.insert("groups".into(), Value::Array(groups));
            }
        }
        let body = render::resource(
            Kind::User,
            &u.id.to_string(),
            d,
            u.created_at,
            u.updated_at,
            u.version,
            self.base(),
        );
        Ok(proj.apply(Kind::User, body))
    }

    pub(crate) async fn create_user(&self, caller: &Caller, body: &Value) -> Result<User> {
        let d = doc::canonical_resource(Kind::User, body, true)?;
        let f = doc::user_fields(&d)?;
        let new = NewUser {
            username: f.username,
            emails: f.emails,
            display_name: f.display_name,
            given_name: f.given_name,
            family_name: f.family_name,
            active: f.active,
            external_id: f.external_id,
            attributes: f.attributes,
            provisioned_by: Some(caller.name.clone()),
        };
        Ok(self
            .deps
            .directory
            .provision_user(new, &caller.actor)
            .await?)
    }

    async fn write_user(
        &self,
        caller: &Caller,
        old: &User,
        d: &Doc,
        if_version: Option<i64>,
    ) -> Result<User> {
        let f = doc::user_fields(d)?;
        let update = UserUpdate {
            username: Some(f.username.clone()),
            emails: Some(f.emails.clone()),
            display_name: Some(f.display_name.clone()),
            given_name: Some(f.given_name.clone()),
            family_name: Some(f.family_name.clone()),
            active: Some(f.active),
            external_id: Some(f.external_id.clone()),
            attributes: Some(f.merged_attributes(&old.attributes)),
        };
        let new = self
            .deps
            .directory
            .replace_user(old.id, update, if_version, &caller.actor)
            .await?;
        if old.active && !new.active {
            // Deactivation ends every session and refresh-token family at once.
            self.end_sessions(new.id).await;
        }
        Ok(new)
    }

    pub(crate) async fn put_user(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: Option<&Precondition>,
    ) -> Result<User> {
        let old = self.visible_user(caller, id).await?;
        let if_version = check_precondition(pre, old.version)?;
        let d = doc::canonical_resource(Kind::User, body, true)?;
        self.write_user(caller, &old, &d, if_version).await
    }

    pub(crate) async fn patch_user(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: Option<&Precondition>,
    ) -> Result<User> {
        let ops = patch::parse(body)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let old = self.visible_user(caller, id).await?;
            let client_version = check_precondition(pre, old.version)?;
            let mut d = doc::user_doc(&old);
            patch::apply(Kind::User, &old.id.to_string(), &mut d, &ops)?;
            let d = doc::canonical_resource(Kind::User, &Value::Object(d), false)?;
            // Conditional on the version read, so a concurrent change is never
            // overwritten with a stale copy: it is re-read and the PATCH re-applied.
            match self.write_user(caller, &old, &d, Some(old.version)).await {
                Err(e)
                    if client_version.is_none()
                        && attempt < PATCH_ATTEMPTS
                        && e.status
                            == actix_web::http::StatusCode::PRECONDITION_FAILED.as_u16() => {}
                other => return other,
            }
        }
    }

    pub(crate) async fn delete_user(
        &self,
        caller: &Caller,
        id: &str,
        pre: Option<&Precondition>,
    ) -> Result<()> {
        let old = self.visible_user(caller, id).await?;
        let if_version = check_precondition(pre, old.version)?;
        self.deps
            .directory
            .remove_user(old.id, if_version, &caller.actor)
            .await?;
        self.end_sessions(old.id).await;
        Ok(())
    }

    pub(crate) async fn list_users(&self, caller: &Caller, p: &ListParams) -> Result<Value> {
        let filter = match &p.filter {
            Some(f) => Some(query_map::user_filter(
                &filter::parse(f)?,
                p.origin.unwrap_or(Origin::Url),
            )?),
            None => None,
        };
        let q: UserQuery = Query {
            filter,
            owner: Some(caller.name.clone()),
            sort: match &p.sort_by {
                Some(s) => user_sort(s)?,
                None => None,
            },
            descending: p.descending,
            offset: p.start_index.saturating_sub(1),
            limit: p.count,
        };
        let slice = self.deps.directory.query_users(&q).await?;
        let mut resources = Vec::with_capacity(slice.items.len());
        for u in &slice.items {
            resources.push(self.user_resource(caller, u, &p.projection).await?);
        }
        Ok(list_response(resources, slice.total, p.start_index))
    }

    /// A search at the service root (RFC 7644 §3.4.3): Users, then Groups, as one
    /// list. A filter that names attributes of only one resource type matches
    /// nothing of the other.
    pub(crate) async fn list_all(&self, caller: &Caller, p: &ListParams) -> Result<Value> {
        let origin = p.origin.unwrap_or(Origin::Body);
        let parsed = p.filter.as_deref().map(filter::parse).transpose()?;
        let (uf, gf) = match &parsed {
            Some(e) => (
                Some(query_map::user_filter(e, origin)),
                Some(query_map::group_filter(e, origin)),
            ),
            None => (None, None),
        };
        if let (Some(Err(e)), Some(Err(_))) = (&uf, &gf) {
            return Err(e.clone());
        }
        let offset = p.start_index.saturating_sub(1);
        let mut resources = Vec::new();
        let mut total = 0u64;
        let mut q: UserQuery = Query {
            filter: None,
            owner: Some(caller.name.clone()),
            sort: None,
            descending: p.descending,
            offset,
            limit: p.count,
        };
        let users_total = match uf {
            Some(Err(_)) => 0,
            f => {
                q.filter = f.transpose()?;
                let slice = self.deps.directory.query_users(&q).await?;
                for u in &slice.items {
                    resources.push(self.user_resource(caller, u, &p.projection).await?);
                }
                slice.total
            }
        };
        total += users_total;
        if !matches!(gf, Some(Err(_))) {
            let taken = u32::try_from(resources.len()).unwrap_or(u32::MAX);
            let gq: GroupQuery = Query {
                filter: gf.transpose()?,
                owner: Some(caller.name.clone()),
                sort: None,
                descending: p.descending,
                offset: offset.saturating_sub(users_total),
                limit: p.count.saturating_sub(taken),
            };
            let slice = self.deps.directory.query_groups(&gq).await?;
            for g in &slice.items {
                resources.push(self.group_resource(g, &p.projection).await?);
            }
            total += slice.total;
        }
        Ok(list_response(resources, total, p.start_index))
    }

    // ----- Groups -----

    pub(crate) async fn visible_group(&self, caller: &Caller, id: &str) -> Result<Group> {
        let uuid = parse_id(id, "Group")?;
        match self.deps.directory.get_group(GroupId(uuid)).await {
            Ok(g) if g.provisioned_by.as_deref() == Some(caller.name.as_str()) => Ok(g),
            Ok(_) | Err(CoreError::NotFound { .. }) => Err(ScimError::not_found("Group", id)),
            Err(e) => Err(e.into()),
        }
    }

    async fn members(&self, g: &Group) -> Result<Vec<UserId>> {
        Ok(self.deps.directory.member_ids(g.id, MAX_MEMBERS).await?)
    }

    pub(crate) async fn group_resource(&self, g: &Group, proj: &Projection) -> Result<Value> {
        let members = if proj.skips(Kind::Group, "members") {
            Vec::new()
        } else {
            self.members(g).await?
        };
        let d = doc::group_doc(g, &members, self.base());
        let body = render::resource(
            Kind::Group,
            &g.id.to_string(),
            d,
            g.created_at,
            g.updated_at,
            g.version,
            self.base(),
        );
        Ok(proj.apply(Kind::Group, body))
    }

    /// Members must be users the caller provisioned.
    async fn check_members(&self, caller: &Caller, ids: &[UserId]) -> Result<()> {
        for id in ids {
            match self.deps.directory.get_user(*id).await {
                Ok(u) if u.provisioned_by.as_deref() == Some(caller.name.as_str()) => {}
                Ok(_) | Err(CoreError::NotFound { .. }) => {
                    return Err(ScimError::value(format!(
                        "members: {id} is not a user this client provisioned"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub(crate) async fn create_group(&self, caller: &Caller, body: &Value) -> Result<Group> {
        let d = doc::canonical_resource(Kind::Group, body, true)?;
        let f = doc::group_fields(&d)?;
        self.check_members(caller, &f.members).await?;
        let new = NewGroup {
            name: f.name.clone(),
            display_name: Some(f.name),
            external_id: f.external_id,
            provisioned_by: Some(caller.name.clone()),
        };
        Ok(self
            .deps
            .directory
            .provision_group(new, &f.members, &caller.actor)
            .await?)
    }

    async fn write_group(
        &self,
        caller: &Caller,
        old: &Group,
        old_members: &[UserId],
        d: &Doc,
        if_version: Option<i64>,
    ) -> Result<Group> {
        let f = doc::group_fields(d)?;
        let add: Vec<UserId> = f
            .members
            .iter()
            .filter(|m| !old_members.contains(m))
            .copied()
            .collect();
        let remove: Vec<UserId> = old_members
            .iter()
            .filter(|m| !f.members.contains(m))
            .copied()
            .collect();
        self.check_members(caller, &add).await?;
        let change = GroupChange {
            update: GroupUpdate {
                name: Some(f.name.clone()),
                display_name: Some(Some(f.name)),
                external_id: Some(f.external_id),
            },
            add,
            remove,
        };
        Ok(self
            .deps
            .directory
            .change_group(old.id, change, if_version, &caller.actor)
            .await?)
    }

    pub(crate) async fn put_group(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: Option<&Precondition>,
    ) -> Result<Group> {
        let old = self.visible_group(caller, id).await?;
        let if_version = check_precondition(pre, old.version)?;
        let members = self.members(&old).await?;
        let d = doc::canonical_resource(Kind::Group, body, true)?;
        self.write_group(caller, &old, &members, &d, if_version)
            .await
    }

    pub(crate) async fn patch_group(
        &self,
        caller: &Caller,
        id: &str,
        body: &Value,
        pre: Option<&Precondition>,
    ) -> Result<Group> {
        let ops = patch::parse(body)?;
        let old = self.visible_group(caller, id).await?;
        let if_version = check_precondition(pre, old.version)?;
        let members = self.members(&old).await?;
        let mut d = doc::group_doc(&old, &members, self.base());
        patch::apply(Kind::Group, &old.id.to_string(), &mut d, &ops)?;
        let d = doc::canonical_resource(Kind::Group, &Value::Object(d), false)?;
        // Members change as a delta under the group's row lock: two PATCHes adding
        // different members both land, whatever order they commit in.
        self.write_group(caller, &old, &members, &d, if_version)
            .await
    }

    pub(crate) async fn delete_group(
        &self,
        caller: &Caller,
        id: &str,
        pre: Option<&Precondition>,
    ) -> Result<()> {
        let old = self.visible_group(caller, id).await?;
        let if_version = check_precondition(pre, old.version)?;
        Ok(self
            .deps
            .directory
            .remove_group(old.id, if_version, &caller.actor)
            .await?)
    }

    pub(crate) async fn list_groups(&self, caller: &Caller, p: &ListParams) -> Result<Value> {
        let filter = match &p.filter {
            Some(f) => Some(query_map::group_filter(
                &filter::parse(f)?,
                p.origin.unwrap_or(Origin::Url),
            )?),
            None => None,
        };
        let q: GroupQuery = Query {
            filter,
            owner: Some(caller.name.clone()),
            sort: match &p.sort_by {
                Some(s) => group_sort(s)?,
                None => None,
            },
            descending: p.descending,
            offset: p.start_index.saturating_sub(1),
            limit: p.count,
        };
        let slice = self.deps.directory.query_groups(&q).await?;
        let mut resources = Vec::with_capacity(slice.items.len());
        for g in &slice.items {
            resources.push(self.group_resource(g, &p.projection).await?);
        }
        Ok(list_response(resources, slice.total, p.start_index))
    }
}
