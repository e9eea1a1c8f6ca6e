//! `application_assignments`: who is assigned to which application, one row per
//! principal (`everyone`, a group or a user).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application_assignments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: Uuid,
    /// `everyone`, `group` or `user`.
    pub principal_kind: String,
    pub group_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
