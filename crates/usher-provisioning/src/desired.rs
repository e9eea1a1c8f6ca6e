//! What a job asks for: the state one app should hold for one object.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usher_connector::{GroupRecord, UserRecord};
use usher_core::UserId;
use usher_core::outbound::DeprovisionAction;

/// The desired state of one object in one app, stored in the job (JSON) when the
/// planner enqueues it. A newer plan replaces a pending job's, so the sender always
/// pushes the latest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Desired {
    /// The user should have this account. `record.active == false`: the user is
    /// assigned but deactivated in usher, so the account is deactivated (never
    /// deleted: the user may come back).
    User {
        /// The mapped account.
        record: UserRecord,
    },
    /// The group should exist with these members (usher ids; the sender sends the
    /// remote ids of those it has pushed).
    Group {
        /// The mapped group.
        record: GroupRecord,
        /// Its members that are provisioned in the app.
        members: Vec<UserId>,
    },
    /// The object should not be there: apply the app's deprovision action (for a
    /// group: delete it).
    Absent {
        /// Deactivate or delete.
        action: DeprovisionAction,
    },
    /// The user is assigned but the app's mapping cannot build the account (its
    /// login name came out empty). Nothing is sent: the sender reports the job as
    /// invalid for this user alone, naming `field`, and parks it until a newer plan
    /// (the user or the mapping changed) replaces it.
    Unmappable {
        /// The target field (`user_name`).
        field: String,
        /// Why, in words (`mapping.user_name: ...`).
        reason: String,
    },
}

impl Desired {
    /// As stored in the job.
    pub fn to_json(&self) -> serde_json::Value {
        // A derived Serialize of plain data with string keys cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a job's desired state.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        Desired::deserialize(value)
            .map_err(|e| format!("the job's desired state is unreadable: {e}"))
    }
}

/// SHA-256 (hex) of a record's canonical JSON: what the remote mapping stores to
/// tell whether an update would change anything. `UserRecord` keeps its extra
/// attributes in a `BTreeMap`, so equal records digest equally.
pub fn digest<T: Serialize>(record: &T) -> String {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    let hash = Sha256::digest(&bytes);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let d = Desired::User {
            record: UserRecord::new("u1", "ada"),
        };
        assert_eq!(Desired::from_json(&d.to_json()).expect("accepted"), d);
        let gone = Desired::Absent {
            action: DeprovisionAction::Delete,
        };
        assert_eq!(gone.to_json()["state"], "absent");
    }

    #[test]
    fn digest_ignores_attribute_insertion_order() {
        let mut a = UserRecord::new("u1", "ada");
        a.attributes.insert("b".into(), "2".into());
        a.attributes.insert("a".into(), "1".into());
        let mut b = UserRecord::new("u1", "ada");
        b.attributes.insert("a".into(), "1".into());
        b.attributes.insert("b".into(), "2".into());
        assert_eq!(digest(&a), digest(&b));
        b.active = false;
        assert_ne!(digest(&a), digest(&b));
    }
}
