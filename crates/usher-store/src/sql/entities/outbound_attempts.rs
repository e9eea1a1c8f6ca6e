//! `outbound_attempts`: the outbound half of the provisioning report.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbound_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: OffsetDateTime,
    pub application_id: Uuid,
    pub object_kind: String,
    pub object_id: Uuid,
    pub label: String,
    pub operation: String,
    /// `AttemptResult::as_str()`.
    pub result: String,
    pub remote_code: Option<String>,
    pub message: Option<String>,
    pub http_status: Option<i32>,
    pub duration_ms: i64,
    pub attempt: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
