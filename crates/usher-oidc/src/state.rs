//! What the OP's handlers share: settings, registered clients and the ports.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::HttpResponse;
use usher_core::ports::{
    AppGate, AuditLog, Clock, Directory, EphemeralStore, KeyStore, RefreshTokens,
};
use usher_core::{Interactions, PendingBudget, Sessions};

use crate::client::{Client, TokenLifetimes};

/// OP settings from configuration.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer: usher's public URL, without a trailing slash.
    pub issuer: String,
    /// Lifetimes of codes and tokens.
    pub lifetimes: TokenLifetimes,
    /// Whether the session cookie is `Secure` (public URL is https).
    pub secure_cookies: bool,
}

/// The ports the OP works through; the binary picks the implementations.
#[derive(Clone)]
pub struct OidcDeps {
    /// Users and groups (claims, `active`).
    pub directory: Arc<dyn Directory>,
    /// Signing keys (reloaded periodically so rotation reaches every instance).
    pub keys: Arc<dyn KeyStore>,
    /// Codes, pending requests, access-token revocations: what may be lost.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// Refresh-token families (durable: SQL).
    pub refresh_tokens: Arc<dyn RefreshTokens>,
    /// SSO sessions.
    pub sessions: Sessions,
    /// Login, consent and logout hand-offs to the pages.
    pub interactions: Interactions,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Per-address budget for the sign-ins and logouts parked, session or not.
    pub budget: PendingBudget,
    /// Decides whether the user may sign in to the app behind a client (its
    /// assignment), before a code is issued.
    pub gate: Arc<dyn AppGate>,
    /// Where refused sign-ins are recorded.
    pub audit: Arc<dyn AuditLog>,
    /// The page for a user not assigned to the app, given its display name
    /// (`usher_web::not_assigned_page`; the OP does not depend on usher-web).
    pub not_assigned_page: fn(&str) -> HttpResponse,
}

impl std::fmt::Debug for OidcDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcDeps")
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct OidcState {
    /// Settings.
    pub settings: OidcSettings,
    /// Clients by `client_id`.
    pub clients: HashMap<String, Client>,
    /// Ports.
    pub deps: OidcDeps,
    /// Signing keys, reloaded from the key store at most every minute.
    pub keys: crate::keys::KeyCache,
}

impl OidcState {
    /// The state for `settings`, `clients` and `deps`, with an empty key cache.
    pub fn new(settings: OidcSettings, clients: HashMap<String, Client>, deps: OidcDeps) -> Self {
        Self {
            settings,
            clients,
            deps,
            keys: crate::keys::KeyCache::default(),
        }
    }

    /// The client registered under `client_id`.
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }
}
