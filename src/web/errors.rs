//! The error renderer: every error response leaves through here, whoever
//! raised it (our handlers, extractors, routing). It logs the cause chain and
//! answers `{error, message, fields?, request_id}` as JSON under `/api` (and
//! webhooks), or an HTML page elsewhere. Internals never reach the client.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use tracing_actix_web::RequestId;

use crate::error::{AppError, ErrorBody, ErrorCode, FieldErrors};
use crate::views;

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let json = super::wants_json(req.path());
    let sign_in = (!json)
        .then(|| crate::urls::sign_in_for(req.path(), req.query_string()))
        .flatten();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();

    // INVARIANT: this middleware is the innermost one, so `next` is routing
    // plus handlers, whose errors arrive as responses with the error attached;
    // an `Err` here is actix's own and keeps its default rendering. (Cloning the
    // request beforehand to rebuild one would break actix's routing.)
    let mut res = next.call(req).await?.map_into_boxed_body();
    if res.response().error().is_some() {
        res = match sign_in {
            // A signed-out browser on a page: off to the sign-in page.
            Some(location) if res.status() == StatusCode::UNAUTHORIZED => {
                let redirect = HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish();
                res.into_response(redirect)
            }
            _ => rerender(res, json, &request_id),
        };
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}

fn rerender(
    res: ServiceResponse<BoxBody>,
    json: bool,
    request_id: &str,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let Some(err) = res.response().error() else {
        return res;
    };

    let (code, message, fields) = match err.as_error::<AppError>() {
        Some(app) => {
            match (status.is_server_error(), app.log_detail()) {
                (true, detail) => tracing::error!(code = %app.code(), detail, "request failed"),
                (false, detail) => {
                    tracing::info!(code = %app.code(), message = app.message(), detail, "request refused")
                }
            }
            (app.code(), app.message().to_owned(), app.fields().clone())
        }
        None => {
            // Raised outside our handlers (extractors, routing): 4xx messages
            // describe the request and are safe to show; 5xx ones are not.
            let code = ErrorCode::from_status(status);
            let message = if status.is_server_error() {
                tracing::error!(code = %code, detail = ?err, "request failed");
                "Something went wrong on our side. Please try again.".to_owned()
            } else {
                tracing::info!(code = %code, message = %err, "request refused");
                err.to_string()
            };
            (code, message, FieldErrors::new())
        }
    };

    let mut builder = HttpResponse::build(status);
    // Keep what the error set on purpose (Retry-After, WWW-Authenticate, Location…).
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    let body = ErrorBody {
        error: code.as_str(),
        message: &message,
        fields: &fields,
        request_id,
    };
    let response = if json {
        builder.json(body)
    } else {
        builder
            .content_type(header::ContentType::html())
            .body(views::error::page(status, &body).into_string())
    };
    res.into_response(response)
}

/// `error` as the answer, on a connection closed after it: for clients not
/// worth their connection (too slow, too many at once). Raised outside
/// `render_errors`, it carries the plain JSON body of `AppError`.
pub fn closing_response(error: &AppError) -> HttpResponse {
    use actix_web::ResponseError;
    let mut response = error.error_response();
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    response
}
