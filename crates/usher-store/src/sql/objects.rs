//! How an [`ObjectRef`] is stored: an `object_kind` column (`user`, `group`) and an
//! `object_id` uuid column, shared by the jobs, the remote mapping and the report.

use sea_orm::prelude::Uuid;
use usher_core::outbound::ObjectRef;
use usher_core::{Error, GroupId, Result, UserId};

/// The `object_id` column's value.
pub(super) fn object_uuid(object: ObjectRef) -> Uuid {
    match object {
        ObjectRef::User(id) => id.0,
        ObjectRef::Group(id) => id.0,
    }
}

/// Rebuilds the reference from its two columns.
pub(super) fn object_ref(kind: &str, id: Uuid) -> Result<ObjectRef> {
    match kind {
        "user" => Ok(ObjectRef::User(UserId(id))),
        "group" => Ok(ObjectRef::Group(GroupId(id))),
        other => Err(Error::Internal(format!(
            "stored object kind {other:?} is unknown"
        ))),
    }
}
