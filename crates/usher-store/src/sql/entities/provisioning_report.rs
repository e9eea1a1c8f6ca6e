//! `provisioning_report`.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provisioning_report")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: OffsetDateTime,
    pub upstream_id: String,
    pub subject: String,
    pub user_id: Option<Uuid>,
    pub decision: String,
    pub reason: Option<String>,
    pub client_ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
