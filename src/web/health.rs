//! Liveness and readiness probes, for Docker, Kubernetes and load balancers.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The process is alive and serving HTTP. Never touches the database.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready for traffic: the database answers. 503 while it does not.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "database": "unreachable" }))
        }
    }
}
