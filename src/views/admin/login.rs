use maud::{Markup, html};

use crate::urls::AdminUrl;
use crate::views::{components, layout};

pub struct LoginForm<'a> {
    pub csrf_token: &'a str,
    pub username: &'a str,
    pub next: Option<&'a str>,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

pub fn page(form: &LoginForm<'_>) -> Markup {
    layout::page(
        "Sign in",
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                p.muted { "Flow HQ admin console" }
                @if let Some(notice) = form.notice { div.flash.flash-info role="status" { (notice) } }
                @if let Some(error) = form.error { div.flash.flash-error role="alert" { (error) } }
                form.stack method="post" action=(AdminUrl::Login) {
                    (components::csrf_input(form.csrf_token))
                    @if let Some(next) = form.next { input type="hidden" name="next" value=(next); }
                    div.field {
                        label for="username" { "Username" }
                        input #username name="username" type="text" autocomplete="username"
                            value=(form.username) required autofocus;
                    }
                    div.field {
                        label for="password" { "Password" }
                        input #password name="password" type="password"
                            autocomplete="current-password" required;
                    }
                    div.form-actions { button.primary type="submit" { "Sign in" } }
                }
            }
        },
    )
}
