//! Typed URLs (kanidm's `enum Urls`): every link and redirect is built here,
//! so a path is spelled once and a typo is a compile error.

use std::fmt;

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminUrl {
    Login,
    Logout,
    Dashboard,
    Tenants,
    NewTenant,
    Tenant(Uuid),
    TenantDelete(Uuid),
    TenantAction(Uuid, &'static str),
    SetupRequests,
    SetupRequestDecision(Uuid, &'static str),
    Audit,
    Tokens,
    TokenRevoke(Uuid),
}

impl fmt::Display for AdminUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login => f.write_str("/admin/login"),
            Self::Logout => f.write_str("/admin/logout"),
            Self::Dashboard => f.write_str("/admin"),
            Self::Tenants => f.write_str("/admin/tenants"),
            Self::NewTenant => f.write_str("/admin/tenants/new"),
            Self::Tenant(id) => write!(f, "/admin/tenants/{id}"),
            Self::TenantDelete(id) => write!(f, "/admin/tenants/{id}/delete"),
            Self::TenantAction(id, action) => write!(f, "/admin/tenants/{id}/{action}"),
            Self::SetupRequests => f.write_str("/admin/setup-requests"),
            Self::SetupRequestDecision(id, decision) => {
                write!(f, "/admin/setup-requests/{id}/{decision}")
            }
            Self::Audit => f.write_str("/admin/audit"),
            Self::Tokens => f.write_str("/admin/tokens"),
            Self::TokenRevoke(id) => write!(f, "/admin/tokens/{id}/revoke"),
        }
    }
}

impl From<AdminUrl> for String {
    fn from(url: AdminUrl) -> Self {
        url.to_string()
    }
}

/// Where a signed-out browser asking for `path` is sent, if anywhere.
pub fn sign_in_for(path: &str, query: &str) -> Option<String> {
    if path.starts_with("/admin") && path != "/admin/login" {
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let next = url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
        Some(format!("{}?next={next}", AdminUrl::Login))
    } else {
        None
    }
}

/// A `next` parameter is followed only to our own admin pages (no open redirect).
pub fn safe_admin_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with("/admin") && !next.starts_with("//") && !next.contains('\\') =>
        {
            next.to_owned()
        }
        _ => AdminUrl::Dashboard.to_string(),
    }
}
