//! `users`: one row per user; email addresses live in `user_emails`.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub username: String,
    /// Lowercased username; unique (`ux_users_username`).
    pub username_normalized: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    /// Unique when set (`ux_users_external_id`).
    pub external_id: Option<String>,
    pub attributes: Json,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Increases with every change (the SCIM ETag).
    pub version: i64,
    /// The SCIM client that created the user (`ix_users_provisioned_by`).
    pub provisioned_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
