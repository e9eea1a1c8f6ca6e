//! A model-based test of planning and delivery: random sequences of joins,
//! moves between groups, leaves, deactivations, returns and renames, applied to
//! the real directory, planned by the real planner at random moments and sent by
//! the real runtime into scim2-server. Whatever the order, the app ends holding
//! exactly what a small model of the rules says:
//!
//! - assigned (member of an assigned group) and active: an active account with
//!   the current display name;
//! - otherwise: a deactivated account if one was ever made, no account if not;
//! - an account is made when a plan finds the user assigned and active (changes
//!   between two plans coalesce, so a user who joins and leaves in between never
//!   gets one);
//! - never two accounts for one user (the lookup by externalId panics on a
//!   duplicate).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use usher_connector::Registry;
use usher_connector_scim::ScimFactory;
use usher_core::ports::{Directory, Jobs};
use usher_core::{Assignment, GroupId, NewGroup, NewUser, UserId, UserUpdate};
use usher_provisioning::{Provisioning, RegistrySource};
use usher_store::Database;

use crate::harness::World;
use crate::support::{Peer, TOKEN};

/// xorshift64*: deterministic, so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

#[derive(Default)]
struct Model {
    members: BTreeMap<GroupId, BTreeSet<UserId>>,
    active: BTreeMap<UserId, bool>,
    names: BTreeMap<UserId, String>,
    has_account: BTreeSet<UserId>,
}

impl Model {
    fn assigned(&self, user: UserId, assigned_groups: &[GroupId]) -> bool {
        assigned_groups
            .iter()
            .any(|g| self.members.get(g).is_some_and(|m| m.contains(&user)))
    }

    /// What a plan does to the model: an assigned, active user gets an account.
    fn planned(&mut self, users: &[UserId], assigned_groups: &[GroupId]) {
        for u in users {
            if self.assigned(*u, assigned_groups) && self.active[u] {
                self.has_account.insert(*u);
            }
        }
    }
}

/// Plans everything, wakes the senders and waits until the app's queue is empty.
async fn settle(w: &World, handle: &usher_provisioning::Handle, app: usher_core::ApplicationId) {
    w.plan().await;
    handle.wake();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = w.store.status(app).await.expect("status");
        if s.pending == 0 && s.in_flight == 0 {
            assert_eq!(s.parked, 0, "nothing is parked against a healthy target");
            return;
        }
        assert!(Instant::now() < deadline, "the queue did not drain: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run_seed(w: &World, peer: &Peer, seed: u64) {
    let mut groups = Vec::new();
    for name in ["sales", "support", "finance"] {
        let g = w
            .store
            .create_group(NewGroup::named(format!("{name}-{seed}")))
            .await
            .expect("group");
        groups.push(g.id);
    }
    // The app is assigned to the first two groups; the third gives nothing.
    let assigned: Vec<GroupId> = groups.iter().take(2).copied().collect();
    let provisioning = json!({
        "connector": "scim",
        "settings": {"base_url": peer.base, "auth": {"type": "bearer", "token": TOKEN}},
    });
    let assignment = Assignment {
        groups: assigned.iter().copied().collect(),
        ..Assignment::default()
    };
    let app = w
        .apps(vec![(&format!("crm-{seed}"), provisioning, assignment)])
        .await
        .remove(0);

    let mut registry = Registry::new();
    registry.register(ScimFactory).expect("scim registers");
    let store = Arc::new(w.store.clone());
    let handle = Provisioning::builder(
        store.clone(),
        store.clone(),
        store.clone(),
        store,
        Arc::new(RegistrySource::new(registry)),
    )
    .clock(w.clock.clone())
    .poll_interval(Duration::from_millis(50))
    .build()
    .spawn();

    let mut model = Model::default();
    let mut users = Vec::new();
    for i in 0..6 {
        let u = w
            .store
            .create_user(NewUser::named(format!("s{seed}u{i}")))
            .await
            .expect("user");
        model.active.insert(u.id, true);
        model.names.insert(u.id, u.username.clone());
        users.push(u.id);
    }
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for step in 0..40 {
        let u = users[rng.below(users.len())];
        let g = groups[rng.below(groups.len())];
        match rng.below(5) {
            0 | 1 => {
                w.store.add_member(g, u).await.expect("join");
                model.members.entry(g).or_default().insert(u);
            }
            2 => {
                w.store.remove_member(g, u).await.expect("leave");
                model.members.entry(g).or_default().remove(&u);
            }
            3 => {
                let active = !model.active[&u];
                let update = UserUpdate {
                    active: Some(active),
                    ..UserUpdate::default()
                };
                w.store.update_user(u, update).await.expect("(de)activate");
                model.active.insert(u, active);
            }
            _ => {
                let name = format!("renamed {seed}.{step}");
                let update = UserUpdate {
                    display_name: Some(Some(name.clone())),
                    ..UserUpdate::default()
                };
                w.store.update_user(u, update).await.expect("rename");
                model.names.insert(u, name);
            }
        }
        if rng.below(3) == 0 {
            settle(w, &handle, app.id).await;
            model.planned(&users, &assigned);
        }
    }
    settle(w, &handle, app.id).await;
    model.planned(&users, &assigned);

    assert!(
        !model.has_account.is_empty(),
        "seed {seed} exercised nothing: no user ever qualified"
    );
    for u in &users {
        let remote = account(peer, *u).await;
        let should_be_active = model.assigned(*u, &assigned) && model.active[u];
        match (model.has_account.contains(u), remote) {
            (false, None) => {}
            (false, Some(r)) => panic!("seed {seed}: {u} never qualified but has {r}"),
            (true, None) => panic!("seed {seed}: {u} should have an account"),
            (true, Some(r)) => {
                assert_eq!(
                    r["active"], should_be_active,
                    "seed {seed}: {u} active downstream: {r}"
                );
                if should_be_active {
                    let shown = r["displayName"].as_str().unwrap_or_default();
                    let expected = &model.names[u];
                    // A user never renamed shows no display name (none was set).
                    assert!(
                        shown == expected || (shown.is_empty() && expected.starts_with('s')),
                        "seed {seed}: {u} display name {shown:?}, expected {expected:?}"
                    );
                }
            }
        }
    }
    handle.shutdown().await;
}

/// The one account with this externalId, if any; panics on a duplicate.
async fn account(peer: &Peer, user: UserId) -> Option<serde_json::Value> {
    let filter = format!("externalId eq \"{user}\"");
    let url =
        reqwest::Url::parse_with_params(&format!("{}/Users", peer.base), [("filter", filter)])
            .expect("URL");
    let list: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let found = list["Resources"].as_array().cloned().unwrap_or_default();
    assert!(found.len() <= 1, "duplicate accounts for {user}: {found:?}");
    found.into_iter().next()
}

pub async fn random_joins_moves_leaves_and_returns_end_in_the_desired_state(db: Database) {
    let Some(peer) = Peer::start() else {
        return;
    };
    // One world (one master key) for every seed; each seed's app replaces the last.
    let w = World::new(&db);
    for seed in [1, 2, 3, 4] {
        run_seed(&w, &peer, seed).await;
    }
}
