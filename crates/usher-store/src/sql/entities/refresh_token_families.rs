//! `refresh_token_families`: a grant and the digest of its current refresh token.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_token_families")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: Uuid,
    pub client_id: String,
    pub sid: String,
    /// A JSON array of strings.
    pub scopes: Json,
    pub auth_time: OffsetDateTime,
    /// A JSON array of strings.
    pub amr: Json,
    pub acr: Option<String>,
    /// `usher_core::random::digest` of the current token.
    pub token_digest: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
