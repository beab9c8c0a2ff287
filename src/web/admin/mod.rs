//! The admin console (maud pages under `/admin`). Every handler but the
//! sign-in page takes an `AdminSession`; every POST takes a `CsrfForm`.

mod login;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/login")
            .route(web::get().to(login::show))
            .route(web::post().to(login::submit)),
    )
    .route("/admin/logout", web::post().to(login::logout));
}
