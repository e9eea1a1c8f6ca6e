//! The schemas usher serves (RFC 7643 §4, §8.7): what `/Schemas` publishes and what
//! requests are checked against. Only attributes usher stores and returns are
//! listed, so a client (or a compliance checker) that writes everything it is
//! told about reads back exactly what it wrote.

use serde_json::{Value, json};

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// usher's own User extension.
pub const USHER: &str = "urn:usher:params:scim:schemas:extension:usher:2.0:User";
/// ListResponse.
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PatchOp.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// SearchRequest.
pub const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// BulkRequest.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// BulkResponse.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Attribute types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Reference(&'static [&'static str]),
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

/// One attribute definition.
#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub unique: bool,
    pub canonical: &'static [&'static str],
    pub sub: &'static [Attr],
    pub description: &'static str,
}

const fn s(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        ty: Type::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        canonical: &[],
        sub: &[],
        description,
    }
}

const fn typed(name: &'static str, canonical: &'static [&'static str]) -> Attr {
    Attr {
        canonical,
        ..s(name, "The kind of value.")
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attr {
    Attr {
        ty: Type::Boolean,
        ..s(name, description)
    }
}

const fn complex(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        ty: Type::Complex,
        sub,
        ..s(name, description)
    }
}

const fn multi(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        ty: Type::Complex,
        multi: true,
        sub,
        ..s(name, description)
    }
}

const PRIMARY: Attr = boolean("primary", "The preferred value; at most one is true.");

/// The core User attributes usher keeps.
pub const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..s(
            "userName",
            "Unique login name (compared case-insensitively).",
        )
    },
    complex(
        "name",
        &[
            s("formatted", "The full name, formatted for display."),
            s("familyName", "Family (last) name."),
            s("givenName", "Given (first) name."),
            s("middleName", "Middle name(s)."),
            s("honorificPrefix", "Honorific prefix (Ms., Dr.)."),
            s("honorificSuffix", "Honorific suffix (III, Jr.)."),
        ],
        "The components of the user's name.",
    ),
    s("displayName", "The name displayed to people."),
    s("nickName", "Casual name."),
    Attr {
        ty: Type::Reference(&["external"]),
        ..s("profileUrl", "URL of the user's online profile.")
    },
    s("title", "Job title."),
    s(
        "userType",
        "Relationship to the organization (Employee, Contractor).",
    ),
    s("preferredLanguage", "Preferred written or spoken language."),
    s("locale", "Default location for localization."),
    s("timezone", "Time zone (IANA name)."),
    boolean("active", "False once deactivated: no sign-in anywhere."),
    multi(
        "emails",
        &[
            s("value", "The email address."),
            typed("type", &["work", "home", "other"]),
            PRIMARY,
        ],
        "Email addresses; each is unique across usher.",
    ),
    multi(
        "phoneNumbers",
        &[
            s("value", "The phone number."),
            typed("type", &["work", "home", "mobile", "fax", "pager", "other"]),
            PRIMARY,
        ],
        "Phone numbers.",
    ),
    multi(
        "addresses",
        &[
            s("formatted", "The full address, formatted for display."),
            s("streetAddress", "Street address."),
            s("locality", "City or locality."),
            s("region", "State or region."),
            s("postalCode", "Postal code."),
            s("country", "Country (ISO 3166-1 alpha-2)."),
            typed("type", &["work", "home", "other"]),
            PRIMARY,
        ],
        "Physical mailing addresses.",
    ),
    Attr {
        mutability: Mutability::ReadOnly,
        ..multi(
            "groups",
            &[
                Attr {
                    mutability: Mutability::ReadOnly,
                    case_exact: true,
                    ..s("value", "The group's id.")
                },
                Attr {
                    mutability: Mutability::ReadOnly,
                    ty: Type::Reference(&["Group"]),
                    ..s("$ref", "The group's URI.")
                },
                Attr {
                    mutability: Mutability::ReadOnly,
                    ..s("display", "The group's name.")
                },
            ],
            "The groups the user belongs to (change them through the groups).",
        )
    },
];

/// The enterprise extension attributes.
pub const ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber", "Employee number."),
    s("costCenter", "Cost center."),
    s("organization", "Organization."),
    s("division", "Division."),
    s("department", "Department."),
    complex(
        "manager",
        &[
            Attr {
                case_exact: true,
                ..s("value", "The manager's id.")
            },
            Attr {
                ty: Type::Reference(&["User"]),
                ..s("$ref", "The manager's URI.")
            },
        ],
        "The user's manager.",
    ),
];

/// usher's extension attributes.
pub const USHER_ATTRS: &[Attr] = &[boolean(
    "emailVerified",
    "Whether the source vouches for the user's email addresses (default true): \
     only verified addresses link upstream sign-ins by email.",
)];

/// The core Group attributes usher keeps.
pub const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..s(
            "displayName",
            "The group's name, unique in usher (compared case-insensitively).",
        )
    },
    multi(
        "members",
        &[
            Attr {
                mutability: Mutability::Immutable,
                case_exact: true,
                ..s("value", "The member's id.")
            },
            Attr {
                mutability: Mutability::Immutable,
                ty: Type::Reference(&["User"]),
                ..s("$ref", "The member's URI.")
            },
            Attr {
                mutability: Mutability::Immutable,
                ..typed("type", &["User"])
            },
        ],
        "The group's members (users; usher has no nested groups).",
    ),
];

/// Which resource a schema set describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn core(self) -> &'static str {
        match self {
            Kind::User => USER,
            Kind::Group => GROUP,
        }
    }

    pub fn attrs(self) -> &'static [Attr] {
        match self {
            Kind::User => USER_ATTRS,
            Kind::Group => GROUP_ATTRS,
        }
    }

    /// Extension URNs and their attributes.
    pub fn extensions(self) -> &'static [(&'static str, &'static [Attr])] {
        match self {
            Kind::User => &[(ENTERPRISE, ENTERPRISE_ATTRS), (USHER, USHER_ATTRS)],
            Kind::Group => &[],
        }
    }

    /// The extension URN `name` spells (case-insensitively), canonically.
    pub fn extension(self, name: &str) -> Option<(&'static str, &'static [Attr])> {
        self.extensions()
            .iter()
            .find(|(urn, _)| urn.eq_ignore_ascii_case(name))
            .copied()
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
}

/// The definition of `name` (case-insensitive, RFC 7643 §2.1) in `attrs`.
pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn mutability(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
    }
}

fn attr_json(a: &Attr) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": match a.ty {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Reference(_) => "reference",
            Type::Complex => "complex",
        },
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "mutability": mutability(a.mutability),
        "returned": "default",
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if matches!(a.ty, Type::String | Type::Reference(_)) {
        v["caseExact"] = json!(a.case_exact);
    }
    if let Type::Reference(types) = a.ty {
        v["referenceTypes"] = json!(types);
    }
    if !a.canonical.is_empty() {
        v["canonicalValues"] = json!(a.canonical);
    }
    if !a.sub.is_empty() {
        v["subAttributes"] = Value::Array(a.sub.iter().map(attr_json).collect());
    }
    v
}

fn schema_json(id: &str, name: &str, description: &str, attrs: &[Attr], location: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{location}/Schemas/{id}")},
    })
}

/// Every schema `/Schemas` lists, the message schemas included (RFC 7643 §7).
pub fn all_schemas(base: &str) -> Vec<Value> {
    // The discovery schemas, described with the attributes usher returns.
    const SPC_ATTRS: &[Attr] = &[
        Attr {
            ty: Type::Reference(&["external"]),
            mutability: Mutability::ReadOnly,
            ..s("documentationUri", "Where the service is documented.")
        },
        Attr {
            mutability: Mutability::ReadOnly,
            ..complex("patch", &[boolean("supported", "Supported.")], "PATCH.")
        },
    ];
    const RT_ATTRS: &[Attr] = &[
        Attr {
            mutability: Mutability::ReadOnly,
            ..s("name", "The resource type's name.")
        },
        Attr {
            mutability: Mutability::ReadOnly,
            ..s("endpoint", "Its endpoint, relative to the base URL.")
        },
        Attr {
            mutability: Mutability::ReadOnly,
            ty: Type::Reference(&["uri"]),
            ..s("schema", "Its core schema.")
        },
    ];
    const SCHEMA_ATTRS: &[Attr] = &[
        Attr {
            mutability: Mutability::ReadOnly,
            ..s("name", "The schema's name.")
        },
        Attr {
            mutability: Mutability::ReadOnly,
            ..s("description", "What it describes.")
        },
    ];
    vec![
        schema_json(USER, "User", "User Account", USER_ATTRS, base),
        schema_json(GROUP, "Group", "Group", GROUP_ATTRS, base),
        schema_json(
            ENTERPRISE,
            "EnterpriseUser",
            "Enterprise User",
            ENTERPRISE_ATTRS,
            base,
        ),
        schema_json(
            USHER,
            "UsherUser",
            "usher's own User attributes",
            USHER_ATTRS,
            base,
        ),
        schema_json(
            "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
            "Service Provider Configuration",
            "What this service provider supports",
            SPC_ATTRS,
            base,
        ),
        schema_json(
            "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
            "ResourceType",
            "A type of resource",
            RT_ATTRS,
            base,
        ),
        schema_json(
            "urn:ietf:params:scim:schemas:core:2.0:Schema",
            "Schema",
            "A schema",
            SCHEMA_ATTRS,
            base,
        ),
    ]
}
