//! A request's body must arrive within `server.body_timeout` of the
//! request reaching us. actix cuts clients that stall in the headers, not
//! in the body: `Content-Length: 100` and one byte held a connection (and
//! its file descriptor) for as long as the client liked, and thousands of
//! them took the process down. The payload is wrapped in a deadline; a
//! client that misses it gets 408 and its connection is closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::{AppError, ErrorCode};

/// Whether the request announces a body (a length above zero, or chunks).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .is_some_and(|length| length > 0)
}

pub async fn bound(
    timeout: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = tokio::time::Instant::now() + timeout;
    let payload = req.take_payload();
    let flag = expired.clone();
    let bounded = futures_util::stream::unfold(Some(payload), move |payload| {
        let flag = flag.clone();
        async move {
            let mut payload = payload?;
            match tokio::time::timeout_at(deadline, payload.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(payload))),
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, Ordering::Relaxed);
                    let late = io::Error::new(io::ErrorKind::TimedOut, "request body too slow");
                    Some((Err(PayloadError::Io(late)), None))
                }
            }
        }
    });
    let bounded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(bounded);
    req.set_payload(Payload::from(bounded));
    let res = next.call(req).await?.map_into_boxed_body();
    if !expired.load(Ordering::Relaxed) {
        return Ok(res);
    }
    let error = AppError::new(
        ErrorCode::RequestTimeout,
        format!(
            "The request body did not arrive within {} s.",
            timeout.as_secs_f64()
        ),
    );
    Ok(res.into_response(super::errors::closing_response(&error)))
}
