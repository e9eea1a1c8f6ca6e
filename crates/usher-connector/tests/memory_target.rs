//! `MemoryTestConnector`: a test double of a downstream target, in memory, that
//! keeps the documented contract. It exists to exercise the trait itself (object
//! safety, the idempotency contract) and is not a connector anyone configures.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use usher_connector::{
    Capabilities, Connector, ConnectorError, GroupRecord, MatchKey, MatchKeys, Page, PageRequest,
    RemoteGroup, RemoteId, RemoteUser, Result, UserRecord,
};

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    users: BTreeMap<RemoteId, UserRecord>,
    groups: BTreeMap<RemoteId, (GroupRecord, Vec<RemoteId>)>,
    /// The fields each update sent, in order.
    updates: Vec<Vec<&'static str>>,
}

/// An in-memory target; see the module documentation.
#[derive(Debug, Default)]
pub struct MemoryTestConnector {
    state: Mutex<State>,
}

impl MemoryTestConnector {
    /// Puts an account on the target as if someone had made it by hand.
    pub fn seed(&self, user: UserRecord) -> RemoteId {
        let mut state = self.state.lock().expect("lock");
        let id = fresh_id(&mut state);
        state.users.insert(id.clone(), user);
        id
    }

    /// How many accounts the target holds.
    pub fn user_count(&self) -> usize {
        self.state.lock().expect("lock").users.len()
    }

    /// The account under `id`.
    pub fn user(&self, id: &RemoteId) -> Option<UserRecord> {
        self.state.lock().expect("lock").users.get(id).cloned()
    }

    /// The fields each update sent.
    pub fn updates(&self) -> Vec<Vec<&'static str>> {
        self.state.lock().expect("lock").updates.clone()
    }

    /// The members of group `id`.
    pub fn members(&self, id: &RemoteId) -> Vec<RemoteId> {
        let state = self.state.lock().expect("lock");
        state
            .groups
            .get(id)
            .map(|g| g.1.clone())
            .unwrap_or_default()
    }
}

fn fresh_id(state: &mut State) -> RemoteId {
    state.next_id += 1;
    RemoteId::new(format!("R{}", state.next_id))
}

fn matches(key: MatchKey, remote: &UserRecord, wanted: &UserRecord) -> bool {
    match key {
        MatchKey::ExternalId => remote.external_id == wanted.external_id,
        MatchKey::UserName => remote.user_name == wanted.user_name,
        MatchKey::Email => wanted
            .primary_email()
            .is_some_and(|e| remote.emails.iter().any(|r| r.value == e)),
    }
}

/// The fields of `desired` that differ from `last` (all of them when unknown).
fn changed_fields(desired: &UserRecord, last: Option<&UserRecord>) -> Vec<&'static str> {
    let differs =
        |same: fn(&UserRecord, &UserRecord) -> bool| last.is_none_or(|l| !same(desired, l));
    let mut sent = Vec::new();
    if differs(|a, b| a.user_name == b.user_name) {
        sent.push("user_name");
    }
    if differs(|a, b| a.display_name == b.display_name) {
        sent.push("display_name");
    }
    if differs(|a, b| (&a.given_name, &a.family_name) == (&b.given_name, &b.family_name)) {
        sent.push("name");
    }
    if differs(|a, b| a.emails == b.emails) {
        sent.push("emails");
    }
    if differs(|a, b| a.attributes == b.attributes) {
        sent.push("attributes");
    }
    sent
}

fn missing(id: &RemoteId) -> ConnectorError {
    ConnectorError::not_found(format!("the target holds no object {id}")).with_http_status(404)
}

#[async_trait]
impl Connector for MemoryTestConnector {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_groups(true)
            .with_partial_update(true)
            .with_member_batch_size(2)
            .with_max_page_size(2)
    }

    async fn test_connection(&self) -> Result<()> {
        Ok(())
    }

    async fn create_user(&self, user: &UserRecord) -> Result<RemoteId> {
        let mut state = self.state.lock().expect("lock");
        let taken = state
            .users
            .iter()
            .find(|(_, u)| u.external_id == user.external_id || u.user_name == user.user_name);
        if let Some((id, _)) = taken {
            return Err(ConnectorError::conflict(
                Some(id.clone()),
                format!("an account named {} already exists", user.user_name),
            )
            .with_http_status(409)
            .with_remote_code("uniqueness"));
        }
        let id = fresh_id(&mut state);
        state.users.insert(id.clone(), user.clone());
        Ok(id)
    }

    async fn update_user(
        &self,
        id: &RemoteId,
        desired: &UserRecord,
        last_pushed: Option<&UserRecord>,
    ) -> Result<()> {
        let mut state = self.state.lock().expect("lock");
        let sent = changed_fields(desired, last_pushed);
        let user = state.users.get_mut(id).ok_or_else(|| missing(id))?;
        let active = user.active;
        *user = desired.clone();
        user.active = active;
        state.updates.push(sent);
        Ok(())
    }

    async fn deactivate_user(&self, id: &RemoteId) -> Result<()> {
        let mut state = self.state.lock().expect("lock");
        state.users.get_mut(id).ok_or_else(|| missing(id))?.active = false;
        Ok(())
    }

    async fn reactivate_user(&self, id: &RemoteId) -> Result<()> {
        let mut state = self.state.lock().expect("lock");
        state.users.get_mut(id).ok_or_else(|| missing(id))?.active = true;
        Ok(())
    }

    async fn delete_user(&self, id: &RemoteId) -> Result<()> {
        // Already gone is success: the first attempt may have deleted it.
        self.state.lock().expect("lock").users.remove(id);
        Ok(())
    }

    async fn find_user(&self, keys: &MatchKeys, user: &UserRecord) -> Result<Option<RemoteUser>> {
        let state = self.state.lock().expect("lock");
        for key in keys.keys() {
            if let Some((id, found)) = state.users.iter().find(|(_, u)| matches(*key, u, user)) {
                return Ok(Some(RemoteUser::new(id.clone(), found.clone())));
            }
        }
        Ok(None)
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Page<RemoteUser>> {
        let state = self.state.lock().expect("lock");
        let start: usize = match &page.cursor {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| ConnectorError::fatal(format!("bad cursor {c:?}")))?,
        };
        let size = page.size.min(self.capabilities().max_page_size) as usize;
        let items: Vec<RemoteUser> = state
            .users
            .iter()
            .skip(start)
            .take(size)
            .map(|(id, u)| RemoteUser::new(id.clone(), u.clone()))
            .collect();
        let next = (start + items.len() < state.users.len()).then(|| (start + size).to_string());
        Ok(Page::new(items, next))
    }

    async fn create_group(&self, group: &GroupRecord, members: &[RemoteId]) -> Result<RemoteId> {
        let mut state = self.state.lock().expect("lock");
        let id = fresh_id(&mut state);
        state
            .groups
            .insert(id.clone(), (group.clone(), members.to_vec()));
        Ok(id)
    }

    async fn find_group(&self, group: &GroupRecord) -> Result<Option<RemoteGroup>> {
        let state = self.state.lock().expect("lock");
        let by_external = state
            .groups
            .iter()
            .find(|(_, (g, _))| g.external_id == group.external_id);
        let found = by_external.or_else(|| {
            state
                .groups
                .iter()
                .find(|(_, (g, _))| g.display_name == group.display_name)
        });
        Ok(found.map(|(id, (g, _))| RemoteGroup::new(id.clone(), g.clone())))
    }

    async fn add_members(&self, group: &RemoteId, members: &[RemoteId]) -> Result<()> {
        let mut state = self.state.lock().expect("lock");
        let (_, current) = state.groups.get_mut(group).ok_or_else(|| missing(group))?;
        for member in members {
            if !current.contains(member) {
                current.push(member.clone());
            }
        }
        Ok(())
    }

    async fn remove_members(&self, group: &RemoteId, members: &[RemoteId]) -> Result<()> {
        let mut state = self.state.lock().expect("lock");
        let (_, current) = state.groups.get_mut(group).ok_or_else(|| missing(group))?;
        current.retain(|m| !members.contains(m));
        Ok(())
    }
}
