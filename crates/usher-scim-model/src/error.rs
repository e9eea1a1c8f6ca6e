//! SCIM errors (RFC 7644 §3.12): a status, a `scimType` where the RFC defines one,
//! and a detail that names the attribute or parameter at fault and says what to do.
//!
//! The status is the bare number the error JSON carries, so this shape needs no
//! HTTP library; the server turns it into a response (`usher-scim`'s `error.rs`).

use serde_json::json;
use usher_core::{Error as CoreError, UniqueKey};

/// The `Content-Type` of every SCIM response (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// The error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter is malformed or names something that cannot be filtered.
    InvalidFilter,
    /// Too many results or operations.
    TooMany,
    /// A uniqueness rule would be broken.
    Uniqueness,
    /// The attribute cannot be changed (readOnly or immutable).
    Mutability,
    /// The request body is not valid SCIM JSON.
    InvalidSyntax,
    /// The PATCH path is malformed.
    InvalidPath,
    /// The PATCH path matched nothing it needed to.
    NoTarget,
    /// A value has the wrong type or is not acceptable.
    InvalidValue,
    /// Wrong SCIM protocol version.
    InvalidVers,
    /// Sensitive information in the request URI.
    Sensitive,
}

impl ScimType {
    /// The `scimType` string on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A SCIM error response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {scim_type:?}: {detail}")]
pub struct ScimError {
    /// HTTP status code.
    pub status: u16,
    /// `scimType`, for 400 and 409 (and 413 tooMany).
    pub scim_type: Option<ScimType>,
    /// What went wrong and what to do.
    pub detail: String,
}

/// Result alias of this crate.
pub type Result<T, E = ScimError> = std::result::Result<T, E>;

impl ScimError {
    /// A 400 with a `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// A status without `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// 404 for an unknown (or invisible) resource.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::status(404, format!("{what} {id:?} not found"))
    }

    /// 400 invalidFilter.
    pub fn filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }

    /// 400 invalidValue.
    pub fn value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }

    /// 400 invalidSyntax.
    pub fn syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }

    /// 400 invalidPath.
    pub fn path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }

    /// 400 mutability.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }

    /// 400 noTarget.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::NoTarget, detail)
    }

    /// 413, with tooMany (RFC 7644 §3.7.4).
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self {
            status: 413,
            scim_type: Some(ScimType::TooMany),
            detail: detail.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        body
    }

    /// Maps a port error; `entity` names what was asked for.
    pub fn from_core(err: CoreError) -> Self {
        match err {
            CoreError::NotFound { entity } => Self::status(404, format!("{entity} not found")),
            CoreError::Conflict(key) => Self {
                status: 409,
                scim_type: Some(ScimType::Uniqueness),
                detail: format!("{} is already taken", unique_attribute(key)),
            },
            CoreError::VersionMismatch { entity, current } => Self::status(
                412,
                format!(
                    "the {entity} changed since you read it (now version W/\"{current}\"); \
                     read it again and retry"
                ),
            ),
            CoreError::Invalid(msg) => Self::value(msg),
            CoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "SCIM: storage unavailable");
                Self::status(503, "storage is unavailable; retry later")
            }
            other => {
                tracing::error!(error = %other, "SCIM: internal error");
                Self::status(500, "internal error")
            }
        }
    }
}

fn unique_attribute(key: UniqueKey) -> &'static str {
    match key {
        UniqueKey::Username => "userName",
        UniqueKey::Email => "an address in emails",
        UniqueKey::ExternalId => "externalId",
        UniqueKey::GroupName => "displayName (group names are unique in usher)",
        _ => "a unique value",
    }
}

impl From<CoreError> for ScimError {
    fn from(err: CoreError) -> Self {
        Self::from_core(err)
    }
}
