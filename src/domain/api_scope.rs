//! What a tenant API key may do: its scopes.
//!
//! Owns: the scope names (stable: keys store them, clients send them) and
//! parsing a list of them. A key is created with the scopes its owner
//! chose; every `/api/v1` route names the one scope it needs
//! (`web::auth::ApiKey<S>`), and a key without it gets 403 naming it.
//! Must not: know HTTP or the database.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// `POST /api/v1/messages`, `GET /api/v1/messages/{id}`.
    #[serde(rename = "messages:send")]
    MessagesSend,
    /// Conversations and their messages, the bot's status.
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    /// Take over a conversation, hand it back to the bot.
    #[serde(rename = "conversations:write")]
    ConversationsWrite,
    /// Replace what the bot knows (FAQ, services, facts).
    #[serde(rename = "knowledge:write")]
    KnowledgeWrite,
    /// The month's usage against the plan.
    #[serde(rename = "usage:read")]
    UsageRead,
    /// Read what the bot knows (FAQ, services, facts, answers).
    #[serde(rename = "knowledge:read")]
    KnowledgeRead,
    /// Webhook endpoints and their delivery logs (never a secret).
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    /// Create, change, delete webhook endpoints, rotate their secrets,
    /// send a test event or an event again.
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Self; 8] = [
        Self::MessagesSend,
        Self::ConversationsRead,
        Self::ConversationsWrite,
        Self::KnowledgeRead,
        Self::KnowledgeWrite,
        Self::WebhooksRead,
        Self::WebhooksWrite,
        Self::UsageRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessagesSend => "messages:send",
            Self::ConversationsRead => "conversations:read",
            Self::ConversationsWrite => "conversations:write",
            Self::KnowledgeWrite => "knowledge:write",
            Self::UsageRead => "usage:read",
            Self::KnowledgeRead => "knowledge:read",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksWrite => "webhooks:write",
        }
    }

    /// What it allows, in an owner's words (the key form).
    pub fn describe(self) -> &'static str {
        match self {
            Self::MessagesSend => "Send messages through the bot",
            Self::ConversationsRead => "Read conversations and the bot's status",
            Self::ConversationsWrite => "Take over conversations and hand them back",
            Self::KnowledgeWrite => "Change what the bot knows",
            Self::UsageRead => "Read usage against the plan",
            Self::KnowledgeRead => "Read what the bot knows",
            Self::WebhooksRead => "Read webhook endpoints and their delivery logs",
            Self::WebhooksWrite => "Manage webhook endpoints, their secrets and deliveries",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's scopes: at least one, each once, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Names as a client sends them; unknown names are refused by name.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut scopes = Vec::new();
        for name in names {
            if name.trim().is_empty() {
                continue;
            }
            let scope = Scope::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "\"{}\" is not a scope; use {}",
                    name.trim(),
                    known.join(", ")
                )
            })?;
            scopes.push(scope);
        }
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err("choose at least one scope".to_owned());
        }
        Ok(Self(scopes))
    }

    /// The stored form: names separated by spaces. What cannot be read
    /// (a scope a later version removed) is left out.
    pub fn from_stored(stored: &str) -> Self {
        let mut scopes: Vec<Scope> = stored.split_whitespace().filter_map(Scope::parse).collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    pub fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_sorted_once_each_and_unknown_names_are_refused_by_name() {
        let scopes = Scopes::parse(["usage:read", "messages:send", "usage:read"]).unwrap();
        assert_eq!(scopes.names(), ["messages:send", "usage:read"]);
        assert_eq!(Scopes::from_stored(&scopes.to_stored()), scopes);
        let err = Scopes::parse(["messages:send", "admin"]).unwrap_err();
        assert!(err.contains("\"admin\""), "{err}");
        assert!(Scopes::parse([" "]).is_err());
    }

    #[test]
    fn every_scope_reads_back_from_its_name_and_serde_agrees() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            assert_eq!(
                serde_json::to_value(scope).unwrap(),
                serde_json::json!(scope.as_str())
            );
        }
    }
}
