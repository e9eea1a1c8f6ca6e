//! `outbox_events`: lifecycle events written with the change that caused them.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `LifecycleEvent::kind()`.
    pub kind: String,
    /// The serde form of the `LifecycleEvent`.
    pub payload: Json,
    pub occurred_at: OffsetDateTime,
    pub processed_at: Option<OffsetDateTime>,
    /// `Subject::kind()`; NULL only on rows from before subjects whose payload
    /// named none.
    pub subject_kind: Option<String>,
    /// `Subject::id()`.
    pub subject_id: Option<Uuid>,
    /// Who made the change.
    pub actor: String,
    /// `usher_core::SCHEMA_VERSION` when written.
    pub schema_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
