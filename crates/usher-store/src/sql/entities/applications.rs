//! `applications`: downstream apps, their connector settings sealed under the
//! master key.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub enabled: bool,
    pub managed_by: String,
    pub sign_in_protocol: Option<String>,
    pub sign_in_key: Option<String>,
    /// The rest of the spec: the provisioning side with its connector settings
    /// taken out.
    pub spec: Json,
    /// `MasterKey::seal` of the connector settings (JSON), the app id as associated
    /// data.
    pub connector_settings_sealed: Option<Vec<u8>>,
    /// `MasterKey::fingerprint` of the key that sealed them.
    pub master_key_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

// Sealed bytes are not secret, but there is no reason to print them either.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("applications::Model")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("managed_by", &self.managed_by)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
