//! The JSON APIs under `/api`. This module owns the scope and how a request
//! that cannot be parsed is refused: a malformed body, query string or path
//! becomes an `AppError` (400 `bad_request`, 404 for a bad id), which the error
//! middleware renders as `{error, message, request_id}` like any other.
//! Handlers live in the submodules; they never touch `entity::*`.

mod admin;
mod api_keys;
mod bots;
mod conversations;
mod knowledge;
mod portal;
mod team;
mod transports;
mod usage;
pub mod v1;
mod webhooks;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IntoDeserializer};

use crate::error::{AppError, ErrorCode};

/// Bodies larger than this are refused with 413 (a tenant with its hours is
/// well under 4 KiB).
const JSON_LIMIT: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .app_data(
                web::JsonConfig::default()
                    .limit(JSON_LIMIT)
                    .error_handler(|err, _| json_error(err).into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| query_error(err).into()))
            .app_data(web::PathConfig::default().error_handler(|err, _| path_error(err).into()))
            .configure(admin::routes)
            .configure(api_keys::routes)
            .configure(bots::routes)
            .configure(conversations::routes)
            .configure(knowledge::routes)
            .configure(portal::routes)
            .configure(team::routes)
            .configure(transports::routes)
            .configure(webhooks::routes)
            .configure(usage::routes)
            .configure(v1::routes),
    );
}

fn json_error(err: JsonPayloadError) -> AppError {
    match err {
        JsonPayloadError::ContentType => AppError::new(
            ErrorCode::BadRequest,
            "Send the body as JSON, with Content-Type: application/json.",
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("The JSON body is larger than {} KiB.", JSON_LIMIT / 1024),
            )
        }
        // serde_json's text names the field or position; it holds no internals.
        JsonPayloadError::Deserialize(err) => AppError::new(
            ErrorCode::BadRequest,
            format!("The JSON body is malformed: {err}"),
        ),
        other => AppError::new(ErrorCode::BadRequest, "The JSON body could not be read.")
            .with_source(anyhow::anyhow!("{other}")),
    }
}

fn query_error(err: QueryPayloadError) -> AppError {
    let detail = match &err {
        QueryPayloadError::Deserialize(err) => err.to_string(),
        other => other.to_string(),
    };
    AppError::new(
        ErrorCode::BadRequest,
        format!("The query string is malformed: {detail}"),
    )
}

/// Ids in paths are UUIDs: anything else names nothing.
fn path_error(err: PathError) -> AppError {
    AppError::not_found(ErrorCode::NotFound, "There is nothing at this address.")
        .with_source(anyhow::anyhow!("{err}"))
}

/// A resource whose unsupported methods answer 405 in JSON like every other
/// error (actix's own 405 carries no error, so it would leave with no body).
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::new(
        ErrorCode::MethodNotAllowed,
        "This method is not allowed here.",
    ))
}

/// A query parameter that may be sent empty (`?status=`, as an HTML form
/// does): empty means absent, anything else must parse as `T`.
pub(crate) fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => {
            T::deserialize(IntoDeserializer::<D::Error>::into_deserializer(text.trim())).map(Some)
        }
    }
}

/// A JSON body that may be left out entirely (an approval without a note):
/// no body means `T::default()`; a body goes through `web::Json` and its
/// `JsonConfig`, so a malformed one is still refused.
pub(crate) struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let empty = !headers.contains_key(header::TRANSFER_ENCODING)
            && headers
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .is_none_or(|length| length.trim() == "0");
        if empty {
            return Box::pin(async { Ok(OptionalJson(T::default())) });
        }
        let json = web::Json::<T>::from_request(req, payload);
        Box::pin(async move { json.await.map(|json| OptionalJson(json.into_inner())) })
    }
}
