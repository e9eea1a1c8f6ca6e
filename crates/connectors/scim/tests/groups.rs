//! Groups pushed into the real `scim2-server`, with PATCH and with PUT only.

use serde_json::{Value, json};
use usher_connector::{Connector, GroupRecord, PageRequest, RemoteId, UserRecord};

use crate::support::{Peer, TOKEN, connector};

fn member_ids(doc: &Value) -> Vec<String> {
    let mut ids: Vec<String> = doc["members"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&RemoteId]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|i| i.as_str().to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_group_is_created_with_members_changed_in_batches_and_deleted() {
    let Some(peer) = Peer::start() else { return };
    for quirks in [json!({}), json!({"no_patch": true})] {
        let c = connector(&peer.base, TOKEN, json!({"quirks": quirks}));
        assert!(c.capabilities().groups);
        assert!(c.capabilities().member_batch_size >= 1);
        let tag = quirks.as_object().map_or(0, |o| o.len());
        let mut users = Vec::new();
        for n in 0..3 {
            let u = UserRecord::new(format!("g{tag}-id-{n}"), format!("g{tag}-user-{n}"));
            users.push(c.create_user(&u).await.expect("user"));
        }
        let record = GroupRecord::new(format!("group-id-{tag}"), format!("Engineering {tag}"));
        let id = c.create_group(&record, &users[..1]).await.expect("created");
        let path = format!("/Groups/{id}");
        assert_eq!(member_ids(&peer.get(&path).await), sorted(&[&users[0]]));

        c.add_members(&id, &users[1..]).await.expect("added");
        c.add_members(&id, &users[1..2]).await.expect("added again");
        let all: Vec<&RemoteId> = users.iter().collect();
        assert_eq!(member_ids(&peer.get(&path).await), sorted(&all), "{quirks}");

        c.remove_members(&id, &users[..2]).await.expect("removed");
        c.remove_members(&id, &users[..1])
            .await
            .expect("removed again");
        assert_eq!(
            member_ids(&peer.get(&path).await),
            sorted(&[&users[2]]),
            "{quirks}"
        );

        let mut renamed = record.clone();
        renamed.display_name = format!("Platform {tag}");
        c.update_group(&id, &renamed, Some(&record))
            .await
            .expect("renamed");
        let stored = peer.get(&path).await;
        assert_eq!(stored["displayName"], renamed.display_name.as_str());
        assert_eq!(
            member_ids(&stored),
            sorted(&[&users[2]]),
            "a rename keeps members"
        );

        let found = c
            .find_group(&renamed)
            .await
            .expect("lookup")
            .expect("found");
        assert_eq!(found.id, id);
        // scim2-server does not hold group names unique (RFC 7643 §4.2 does not
        // ask it to), so a second create would succeed there: the core's lookup
        // before a create (find_group, above) is what keeps groups single.

        c.delete_group(&id).await.expect("deleted");
        c.delete_group(&id).await.expect("deleted again");
        assert!(c.find_group(&renamed).await.expect("lookup").is_none());
    }
    let listed = peer
        .connector()
        .list_groups(&PageRequest::first(10))
        .await
        .expect("listed");
    assert!(listed.items.is_empty(), "{listed:?}");
}
