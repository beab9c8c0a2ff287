//! Static assets, compiled into the binary (nothing to copy next to it) and
//! served with long-lived cache headers: their URLs carry a content hash.

use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, web};

use crate::error::{AppError, ErrorCode};
use crate::views::assets;

pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = assets::find(&file)
        .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "No such file."))?;
    Ok(HttpResponse::Ok()
        .insert_header(ContentType(asset.mime.clone()))
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(365 * 24 * 3600),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .body(asset.body))
}
