//! What the bot knows: the "Bot" page's markup, shared by the portal
//! (`/portal/bot`, the session's tenant) and the admin console
//! (`/admin/tenants/{id}/bot`). The page is the frame; `static/bot.js`
//! fills it from the JSON twin whose root is the page's `data-api`
//! (`/api/portal` or `/api/admin/tenants/{id}`: `…/knowledge`,
//! `…/answers`, `…/unanswered`, `…/try`) and saves through it, so the page
//! and the API can never disagree. Sections: business facts, services and
//! prices, FAQ entries, the built-in answers per language (reset,
//! versions), the questions the bot could not answer, "Try your bot" (the
//! real engine at a chosen time, nothing sent) and, in the portal only,
//! the sandbox customer chat (the console has its own, on the tenant's
//! page). The page shells (navigation, title) are the callers'.
//! Must not: hold inline scripts or styles (strict CSP).

use maud::{Markup, html};

use crate::domain::language::Language;
use crate::urls::{AdminUrl, BotUrls};

/// `ai_available`: the platform has an AI model configured (`[ai]`).
pub fn content(urls: BotUrls, ai_available: bool) -> Markup {
    let api = urls.api();
    let (heading, no_ai) = match urls {
        BotUrls::Portal => (
            "What your bot knows",
            "The platform has no AI model configured, so this has no effect yet: ask your \
             administrator.",
        ),
        BotUrls::Admin(_) => (
            "What the bot knows",
            "The platform has no AI model configured ([ai] in its configuration), so this \
             has no effect yet.",
        ),
    };
    html! {
        div #bot-page data-api=(api) {
            div.page-header { h1 { (heading) } }
            noscript { p.card { "This page needs JavaScript. The same data is at " (api) "/knowledge." } }
            p #bot-status .muted role="status" aria-live="polite" {}
            section.card #facts {
                h2 { "Business facts" }
                p.muted {
                    "Used in answers as placeholders: {address}, {maps_url}, {phone}, {email}, "
                    "{website}, {booking_link}, {payment}, {delivery}, and each extra fact by its key."
                }
                div.stack #facts-fields {}
                h3 { "Extra facts" }
                div.stack #extra-list {}
                div.actions { button type="button" #add-extra { "Add a fact" } }
            }
            section.card #services {
                h2 { "Services and prices" }
                p.muted { "Asked \"how much is a haircut?\", the bot answers with the haircut's line; asked for prices, with every active one, in this order." }
                div.stack #service-list {}
                div.actions { button type="button" #add-service { "Add a service" } }
            }
            section.card #faq {
                h2 { "Questions and answers (FAQ)" }
                p.muted { "An entry answers when a message holds one of its words or phrases (accents and case do not matter; \"park*\" matches any word starting with park). The first matching entry wins." }
                div.stack #faq-list {}
                div.actions { button type="button" #add-faq { "Add a question" } }
            }
            section.card #ai {
                h2 { "AI replies" }
                @if ai_available {
                    p.muted {
                        "When nothing above answers a question, an AI model may answer instead, from "
                        "these facts, services and questions only. An answer naming a price, time or "
                        "date that is not here is never sent: the bot sends its own answer instead. "
                        "Asked for a person, or unsure, it hands the chat to you."
                    }
                } @else {
                    p.muted #ai-unavailable { (no_ai) }
                }
                div.stack {
                    label.check { input #ai-enabled type="checkbox"; " Answer with AI when nothing else does" }
                    label for="ai-tone" { "Tone and formality" }
                    input #ai-tone type="text" maxlength="200" placeholder="warm and short; informal (du)";
                    label for="ai-rules" { "Rules, one per line" }
                    textarea #ai-rules rows="4" placeholder="Always offer a free trial session\nNever give medical advice" {}
                }
            }
            div.actions {
                button.primary type="button" #save-knowledge { "Save facts, services, questions and AI" }
            }
            p #save-status role="alert" {}
            section.card #answers {
                h2 { "The bot's own answers" }
                p.muted { "Reword any built-in answer; placeholders are checked when you save. The last 20 versions of each are kept." }
                label for="answer-language" { "Language" }
                select #answer-language {
                    @for lang in Language::ALL {
                        option value=(lang.code()) { (lang.name()) }
                    }
                }
                div.stack #answer-list {}
            }
            section.card #unanswered {
                h2 { "Questions your bot could not answer" }
                p.muted { "Messages that got the help menu, grouped by their words, the most asked first." }
                div.stack #unanswered-list {}
            }
            section.card #try {
                h2 { "Try your bot" }
                p.muted { "Your real bot with your current settings, at the time you choose. Nothing is sent or logged." }
                form.stack #try-form {
                    label for="try-text" { "Message" }
                    input #try-text type="text" maxlength="4096" required autocomplete="off";
                    label for="try-at" { "As if it were (your business's local time)" }
                    input #try-at type="datetime-local";
                    div.actions { button.primary type="submit" #try-send { "Ask" } }
                }
                ul.stack #try-log {}
            }
            @match urls {
                BotUrls::Portal => { (sandbox_chat()) }
                BotUrls::Admin(id) => {
                    p.muted #sandbox-elsewhere {
                        "With the sandbox connection, write as one of the tenant's customers in the chat on "
                        a href=(AdminUrl::Tenant(id)) { "the tenant's page" } "."
                    }
                }
            }
        }
    }
}

/// The owner plays a customer of their own sandbox bot (portal only: its
/// routes are the session's tenant's).
fn sandbox_chat() -> Markup {
    html! {
        section.card #sandbox-chat {
            h2 { "Chat as a customer (sandbox)" }
            p.muted { "With the sandbox connection and your bot running, write as a customer: the message is stored, logged and answered like any other." }
            form.stack #sandbox-form {
                label for="sandbox-from" { "Customer number" }
                input #sandbox-from type="tel" value="+491700000001";
                label for="sandbox-text" { "Message" }
                input #sandbox-text type="text" maxlength="4096" required autocomplete="off";
                div.actions { button type="submit" { "Send" } }
            }
            p #sandbox-status role="alert" {}
            ul.stack #sandbox-log {}
        }
    }
}
