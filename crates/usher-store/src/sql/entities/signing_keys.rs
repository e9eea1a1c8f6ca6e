//! `signing_keys`: private parts sealed under the master key.

use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub algorithm: String,
    /// `MasterKey::seal` output, with the kid as associated data.
    pub private_key_sealed: Vec<u8>,
    /// `MasterKey::fingerprint` of the key that sealed it.
    pub master_key_id: String,
    pub public_key: Vec<u8>,
    pub certificate: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub publish_until: Option<OffsetDateTime>,
}

// Sealed bytes are not secret, but there is no reason to print them either.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("signing_keys::Model")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("master_key_id", &self.master_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
