//! `applications`: downstream apps.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// `AppKind::key().0`: `oidc_client`, `saml_sp`, `provisioning_target`.
    pub kind: String,
    /// `AppKind::key().1`: client id, entity id or connector name.
    pub protocol_key: String,
    pub access: Json,
    pub enabled: bool,
    pub settings: Json,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
