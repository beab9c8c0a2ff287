use maud::Markup;

use crate::views;

pub async fn index() -> Markup {
    views::home::page()
}
