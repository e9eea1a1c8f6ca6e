//! `user_emails`: a user's addresses, in order (`position`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub address: String,
    /// `usher_core::normalize_email(address)`; unique across all users.
    pub address_normalized: String,
    pub verified: bool,
    pub is_primary: bool,
    /// The SCIM `type` (`work`, `home`, ...).
    pub kind: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
