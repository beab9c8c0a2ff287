//! The page shell every HTML page shares.

use maud::{DOCTYPE, Markup, html};

use super::assets;

pub fn page(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Flow HQ" }
                link rel="stylesheet" href=(assets::css_url());
            }
            body {
                header.topbar {
                    a.brand href="/" { span.brand-mark { "◆" } " Flow HQ" }
                }
                main.container { (content) }
            }
        }
    }
}
