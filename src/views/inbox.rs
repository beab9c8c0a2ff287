//! The inbox's markup, shared by the portal (`/portal/inbox…`, the
//! session's tenant) and the admin console (`/admin/tenants/{id}/inbox…`):
//! the conversation list and one thread with its reply box, take over and
//! hand back. The pages' shells (navigation, title) are the callers'; the
//! URLs come in as `InboxUrls`, so the markup is written once. Both pages
//! work without JavaScript; `inbox.js` refreshes the parts marked
//! `data-live` when the event stream named by `data-inbox-events` says
//! something changed, and keeps the count of chats needing a person (and
//! the browser notification, once the person opted in) from
//! `data-inbox-needs`.

use chrono::{DateTime, Utc};
use entity::enums::{ConversationMode, Direction, MessageStatus};
use maud::{Markup, html};

use crate::domain::media;
use crate::services::inbox::{ConversationItem, ConversationPage, InboxFilter, Thread};
use crate::urls::{InboxUrls, query_string};
use crate::views::components::{self, Zone, csrf_input, enum_name};

/// What the list shows: the filter and search it was asked for, and
/// where its links go.
pub struct ListView<'a> {
    pub page: &'a ConversationPage,
    pub filter: InboxFilter,
    pub q: &'a str,
    pub zone: Zone,
    pub now: DateTime<Utc>,
    pub urls: InboxUrls,
    /// The live mark taken before the page was read (`Live::mark`).
    pub since: &'a str,
}

const FILTERS: [(InboxFilter, &str, &str); 4] = [
    (InboxFilter::All, "all", "All"),
    (InboxFilter::NeedsHuman, "needs_human", "Needs a person"),
    (InboxFilter::Bot, "bot", "With the bot"),
    (InboxFilter::Human, "human", "With a person"),
];

/// The list page's content; the caller's page shell goes around it.
pub fn list(view: &ListView<'_>) -> Markup {
    let urls = view.urls;
    let filter_name = FILTERS
        .iter()
        .find(|(f, _, _)| *f == view.filter)
        .map_or("all", |(_, name, _)| *name);
    html! {
        div.page-header { h1 { "Inbox" } (live_header(urls, view.since)) }
        nav.filters aria-label="Filter conversations" {
            @for (filter, name, label) in FILTERS {
                @let href = format!("{}?{}", urls.list(), query_string(&[("filter", name), ("q", view.q)]));
                @if filter == view.filter {
                    a.filter.current href=(href) aria-current="page" { (label) }
                } @else {
                    a.filter href=(href) { (label) }
                }
            }
        }
        form.search method="get" action=(urls.list()) role="search" {
            input type="hidden" name="filter" value=(filter_name);
            label for="q" { "Search by number, name or what the customer wrote" }
            input #q type="search" name="q" value=(view.q);
            button.btn type="submit" { "Search" }
        }
        (view.zone.note())
        div #inbox-list data-live="inbox-list" {
            @if view.page.items.is_empty() {
                (components::empty(
                    "No conversations here",
                    "When customers write to your WhatsApp number, their chats show up here.",
                    None,
                ))
            } @else {
                ul.conversations {
                    @for item in &view.page.items {
                        (conversation_row(urls, item, view.zone, view.now))
                    }
                }
            }
            @if let Some(cursor) = &view.page.next_cursor {
                @let href = format!("{}?{}", urls.list(),
                    query_string(&[("filter", filter_name), ("q", view.q), ("cursor", cursor)]));
                p { a.btn href=(href) { "Older conversations" } }
            }
        }
    }
}

/// What `inbox.js` fills in, on the list and on a thread: how many chats
/// need a person (also in the tab's title), and the opt-in to browser
/// notifications. Hidden until the script shows them: without it the
/// "Needs a person" filter is the way to find them.
fn live_header(urls: InboxUrls, since: &str) -> Markup {
    let needs = format!(
        "{}?{}",
        urls.list(),
        query_string(&[("filter", "needs_human")])
    );
    html! {
        div.inbox-live #inbox-live
            data-inbox-events=(format!("{}?{}", urls.events(), query_string(&[("since", since)])))
            data-inbox-needs=(urls.needs_human_json()) data-inbox-list=(urls.list()) {
            a.badge.badge-needs-human #needs-human-count href=(needs) hidden {}
            " "
            button.secondary.small #notify-optin type="button" hidden {
                "Notify me when a chat needs a person"
            }
            span.muted #notify-state hidden {}
        }
    }
}

fn conversation_row(
    urls: InboxUrls,
    item: &ConversationItem,
    zone: Zone,
    now: DateTime<Utc>,
) -> Markup {
    let who = item.contact_name.as_deref().unwrap_or(&item.chat);
    html! {
        li.conversation.needs-human[item.needs_human] data-conversation=(item.id) {
            a href=(urls.conversation(item.id)) {
                span.head {
                    span.who { (who) }
                    @if item.contact_name.is_some() { " " span.muted { (item.chat) } }
                    " "
                    (mode_badge(item.mode))
                    @if item.needs_human {
                        " " span.badge.badge-needs-human { "Needs a person" }
                        @if let Some(since) = item.needs_human_since {
                            " " span.waiting { "waiting " (waited(now - since)) }
                        }
                    }
                    @if item.unread > 0 {
                        " " span.badge.badge-unread aria-label=(format!("{} unread", item.unread)) { (item.unread) }
                    }
                }
                span.when { (zone.datetime(&item.last_message_at)) }
                span.preview { (item.preview) }
            }
        }
    }
}

fn mode_badge(mode: ConversationMode) -> Markup {
    match mode {
        ConversationMode::Bot => html! { span.badge.badge-bot { "Bot" } },
        ConversationMode::Human => html! { span.badge.badge-human { "Person" } },
    }
}

/// "5 min", "3 h", "2 days".
fn waited(for_: chrono::Duration) -> String {
    let minutes = for_.num_minutes().max(0);
    match minutes {
        0..60 => format!("{minutes} min"),
        60..2880 => format!("{} h", minutes / 60),
        _ => format!("{} days", minutes / 1440),
    }
}

/// A thread's title: the contact's name, else the number.
pub fn thread_title(thread: &Thread) -> &str {
    let conversation = &thread.conversation;
    conversation
        .contact_name
        .as_deref()
        .unwrap_or(&conversation.chat)
}

/// A thread page's content (the caller's shell goes around it); its forms
/// carry `csrf_token`; `since` is the live mark taken before it was read.
pub fn thread(
    urls: InboxUrls,
    csrf_token: &str,
    thread: &Thread,
    zone: Zone,
    since: &str,
) -> Markup {
    let conversation = &thread.conversation;
    let who = thread_title(thread);
    let id = conversation.id;
    html! {
        p { a href=(urls.list()) { "← Inbox" } }
        div.page-header {
            h1 { (who) }
            @if conversation.contact_name.is_some() { p.muted { (conversation.chat) } }
            (live_header(urls, since))
        }
        div #thread-state data-live="thread-state" {
            p.mode {
                (mode_badge(conversation.mode))
                @match conversation.mode {
                    ConversationMode::Bot => " The bot answers this chat.",
                    ConversationMode::Human => " A person has this chat: the bot stays silent.",
                }
                @if conversation.needs_human {
                    " " span.badge.badge-needs-human { "Needs a person" }
                }
            }
            div.actions {
                @match conversation.mode {
                    ConversationMode::Bot => (components::action_button(
                        &urls.take_over(id), csrf_token, "Take over", "btn")),
                    ConversationMode::Human => (components::action_button(
                        &urls.hand_back(id), csrf_token, "Hand back to the bot", "btn")),
                }
            }
        }
        (zone.note())
        ol.thread #thread-messages data-live="thread-messages" {
            @for entry in timeline(thread) {
                @match entry {
                    Entry::Message(m) => {
                        li class=(format!("message message-{}", enum_name(&m.direction).to_ascii_lowercase())) {
                            span.author { (author_label(&m.author, m.direction)) }
                            " " span.when { (zone.datetime(&m.created_at)) }
                            @if let Some(kind) = media::label(m.kind) {
                                " " span.badge.badge-kind { (kind) }
                            }
                            @if let Some(ai) = m.ai.as_ref().filter(|ai| ai.wrote_it()) {
                                " " span.badge.badge-ai title=(format!("Written by AI ({} + {} tokens)", ai.tokens_in, ai.tokens_out)) { "AI" }
                            }
                            div.text { (m.text) }
                            @if let Some(note) = m.ai.as_ref().and_then(|ai| ai.note.as_deref()) {
                                p.muted.ai-note { "AI: " (note) }
                            }
                            @if m.direction == Direction::Out {
                                span.status { (out_status(m.status)) }
                                @if let Some(error) = &m.error {
                                    " " span.muted { (error) }
                                }
                            }
                        }
                    }
                    Entry::Switch(s) => {
                        li.switch {
                            (zone.datetime(&s.created_at)) " "
                            @match s.mode {
                                ConversationMode::Human => "To a person: ",
                                ConversationMode::Bot => "Back to the bot: ",
                            }
                            (s.why)
                            @if let Some(actor) = &s.actor { " (" (actor) ")" }
                        }
                    }
                }
            }
        }
        form.reply method="post" action=(urls.reply(id)) {
            (csrf_input(csrf_token))
            @match &thread.can_reply {
                Ok(()) => {
                    label for="text" { "Your reply" }
                    textarea #text name="text" rows="3" maxlength="4096" required {}
                    button.btn.btn-primary type="submit" { "Send" }
                }
                Err(why) => {
                    p.notice.reply-refused { (why) }
                }
            }
        }
    }
}

enum Entry<'a> {
    Message(&'a crate::services::inbox::ThreadMessage),
    Switch(&'a crate::services::inbox::ModeSwitch),
}

/// Messages and mode switches, oldest first (switches within the shown
/// messages' time span, and after them).
fn timeline(thread: &Thread) -> Vec<Entry<'_>> {
    let messages = &thread.messages.items;
    let since = messages.first().map(|m| m.created_at);
    let mut entries: Vec<(DateTime<Utc>, Entry<'_>)> = messages
        .iter()
        .map(|m| (m.created_at, Entry::Message(m)))
        .collect();
    entries.extend(
        thread
            .switches
            .iter()
            .filter(|s| since.is_none_or(|since| s.created_at >= since))
            .map(|s| (s.created_at, Entry::Switch(s))),
    );
    entries.sort_by_key(|(at, _)| *at);
    entries.into_iter().map(|(_, entry)| entry).collect()
}

fn author_label(author: &str, direction: Direction) -> String {
    match (direction, author) {
        (Direction::In, _) => "Customer".to_owned(),
        (Direction::Out, "bot") => "Bot".to_owned(),
        (Direction::Out, person) => person.to_owned(),
    }
}

fn out_status(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued => "waiting to be sent",
        MessageStatus::Sending => "sending",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
        MessageStatus::Failed => "not sent",
        MessageStatus::Unknown => "maybe not sent",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_times_read_in_minutes_hours_then_days() {
        let m = chrono::Duration::minutes;
        assert_eq!(waited(m(-3)), "0 min");
        assert_eq!(waited(m(59)), "59 min");
        assert_eq!(waited(m(60)), "1 h");
        assert_eq!(waited(m(2879)), "47 h");
        assert_eq!(waited(m(2880)), "2 days");
    }
}
