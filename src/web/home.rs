//! `GET /`: the public start page.

use actix_web::web;
use maud::Markup;
use serde::Deserialize;

use crate::state::AppState;
use crate::views;

#[derive(Deserialize)]
pub struct HomeQuery {
    signed_out: Option<String>,
}

pub async fn index(state: web::Data<AppState>, query: web::Query<HomeQuery>) -> Markup {
    views::home::page(&views::home::Home {
        google: state.google.is_some(),
        signed_out: query.signed_out.is_some(),
    })
}
