//! The reply engine's own figure: one tenant with many FAQ entries and
//! services (compiled once, as a bot does at each settings load), and a mix
//! of messages (an FAQ hit, a price naming a service, a price naming none,
//! opening hours, a question nothing covers), timed per message. Pure CPU:
//! no database, no runtime.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use entity::enums::TemplateType;
use serde_json::json;

use crate::domain::hours::BusinessHours;
use crate::domain::knowledge::KnowledgeInput;
use crate::domain::language::Language;
use crate::replies::{CompiledKnowledge, ReplyContext, reply};

/// What one run measured.
pub struct ReplyFigures {
    pub per_message: Duration,
    pub p99: Duration,
    pub compile: Duration,
}

/// A knowledge document with `faq` entries and `services` services.
fn document(faq: usize, services: usize) -> anyhow::Result<CompiledKnowledge> {
    let faq: Vec<_> = (0..faq)
        .map(|i| {
            json!({
                "question": format!("Question {i}?"),
                "triggers": [format!("topic{i}"), format!("ask about thing{i}"), format!("stem{i}*")],
                "answer": format!("Answer {i}, call {{phone}}."),
            })
        })
        .collect();
    let services: Vec<_> = (0..services)
        .map(|i| {
            json!({
                "name": format!("Treatment{i} deluxe"),
                "price": format!("{}.50", 10 + i),
                "currency": "EUR",
                "duration_minutes": 30,
            })
        })
        .collect();
    let input: KnowledgeInput = serde_json::from_value(json!({
        "facts": {"address": "Main Street 1", "phone": "+49 30 123456"},
        "services": services,
        "faq": faq,
    }))?;
    let doc = input
        .parse()
        .map_err(|fields| anyhow::anyhow!("bench knowledge is invalid: {fields:?}"))?;
    Ok(CompiledKnowledge::compile(doc))
}

pub fn run(faq: usize, services: usize, iterations: usize) -> anyhow::Result<ReplyFigures> {
    let started = Instant::now();
    let knowledge = document(faq, services)?;
    let compile = started.elapsed();
    let hours = BusinessHours::default();
    let ctx = ReplyContext {
        template: TemplateType::Booking,
        language: Language::En,
        business_name: "Bench Salon",
        welcome_message: "",
        hours: &hours,
        timezone: chrono_tz::Europe::Berlin,
        max_message_length: 4096,
        first_contact: false,
        people_notified: true,
        knowledge: &knowledge,
        out_of_hours_note_due: false,
    };
    let last_faq = faq.saturating_sub(1);
    let last_service = services.saturating_sub(1);
    let messages = [
        format!("Hello, can I ask about thing{last_faq} please?"),
        format!("How much is treatment{last_service}?"),
        "When are you open on Saturday?".to_owned(),
        "Do you have a cat I could pet while I wait for my friend?".to_owned(),
        "How much does it cost?".to_owned(),
    ];
    // Monday 10:00 in Berlin: open.
    let now = chrono_tz::Europe::Berlin
        .with_ymd_and_hms(2026, 3, 23, 10, 0, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| anyhow::anyhow!("bench time"))?;
    let mut samples = Vec::with_capacity(iterations);
    let mut sent = 0usize;
    for i in 0..iterations {
        let message = &messages[i % messages.len()];
        let t = Instant::now();
        let answer = reply(&ctx, message, now);
        samples.push(t.elapsed());
        sent += answer.parts.len();
    }
    // The answers are used, so nothing is optimised away.
    anyhow::ensure!(sent >= iterations, "every message got an answer");
    let total: Duration = samples.iter().sum();
    samples.sort_unstable();
    let p99 = samples
        .get(samples.len().saturating_mul(99) / 100)
        .copied()
        .unwrap_or_default();
    Ok(ReplyFigures {
        per_message: total / u32::try_from(iterations.max(1)).unwrap_or(u32::MAX),
        p99,
        compile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_bench_runs_on_a_tiny_size() {
        let figures = run(5, 3, 50).unwrap();
        assert!(figures.per_message > Duration::ZERO);
        assert!(figures.p99 >= Duration::ZERO);
    }

    #[test]
    fn the_bench_messages_hit_the_rules_they_are_meant_to() {
        let knowledge = document(10, 10).unwrap();
        let words = |t: &str| crate::replies::normalise(t);
        let w = words("Hello, can I ask about thing9 please?");
        let w: Vec<&str> = w.split_whitespace().collect();
        assert_eq!(knowledge.faq_for(&w), Some(9));
        let w = words("How much is treatment9?");
        let w: Vec<&str> = w.split_whitespace().collect();
        assert_eq!(knowledge.services_named(&w), [9]);
    }
}
