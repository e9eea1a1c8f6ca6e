//! `provisioning_jobs`: the outbound job queue.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provisioning_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: Uuid,
    /// `ObjectRef::kind()`.
    pub object_kind: String,
    pub object_id: Uuid,
    /// `JobState::as_str()`.
    pub state: String,
    pub desired: Json,
    pub label: String,
    pub cause: String,
    pub attempts: i32,
    pub next_run_at: OffsetDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub changed_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
