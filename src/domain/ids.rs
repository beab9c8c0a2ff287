//! Ids as types of their own: a tenant id cannot be passed where a
//! conversation id is expected, and signatures say what they take.
//!
//! Each is a UUID underneath (the stored columns stay `uuid`), serialised
//! as the bare UUID (`#[serde(transparent)]`), so JSON bodies and paths
//! look as they did. `DeriveValueType` lets services filter with them
//! (`Column::TenantId.eq(tenant)`) and read them from query results.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            sea_orm::DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id (v4).
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A tenant (a business), `tenant.id`.
    TenantId
);

uuid_id!(
    /// A tenant's webhook endpoint, `webhook_endpoint.id`.
    WebhookId
);

uuid_id!(
    /// A tenant's API key, `api_key.id` (the `kid` in its routes).
    ApiKeyId
);

/// A conversation (one customer chat of a tenant), `conversation.id`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sea_orm::DeriveValueType,
)]
#[serde(transparent)]
pub struct ConversationId(i64);

impl ConversationId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ConversationId {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_and_prints_as_its_bare_uuid() {
        let uuid = Uuid::new_v4();
        let id = TenantId::from_uuid(uuid);
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(uuid));
        let back: TenantId = serde_json::from_value(serde_json::json!(uuid)).unwrap();
        assert_eq!(back, id);
        assert_eq!(uuid.to_string().parse::<TenantId>().unwrap(), id);
        assert!("not-a-uuid".parse::<TenantId>().is_err());
    }
}
