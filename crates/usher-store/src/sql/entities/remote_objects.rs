//! `remote_objects`: what each app holds for one local user or group.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "remote_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: Uuid,
    pub remote_id: String,
    /// `RemoteState::as_str()`.
    pub state: String,
    pub pushed: Json,
    pub digest: String,
    pub changed_at: OffsetDateTime,
    pub acknowledged_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
