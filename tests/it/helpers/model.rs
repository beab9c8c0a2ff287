//! A local OpenAI-compatible chat-completions server (wiremock on
//! loopback) for AI replies, answering by what the customer wrote: the
//! product's own client talks to it exactly as it would to OpenAI, Ollama
//! or llama.cpp.
//!
//! The customer's words pick the script (the last user message):
//! - "wedding": a grounded answer naming two prices of the salon;
//! - "beard oil": an answer with an invented price (17 EUR);
//! - "complain": a structured handoff;
//! - "slowly": a grounded answer after 5 s (beyond the tests' timeout);
//! - "broken": HTTP 500 with a provider error text;
//! - "garbled": content that is not the structured form;
//! - anything else: a short grounded answer without figures.
//!
//! Every answer costs 100 prompt and 20 completion tokens.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The provider's error text, which must never reach a customer.
pub const PROVIDER_ERROR: &str = "Internal provider meltdown 7731";
/// The invented price of the "beard oil" script.
pub const INVENTED: &str = "Beard oil costs 17 EUR.";
/// The grounded answer of the "wedding" script.
pub const GROUNDED: &str =
    "For a wedding we recommend a Haircut (25.00 EUR) and Colouring (49.90 EUR).";
/// The answer to anything else.
pub const GENERIC: &str = "Happy to help with that, just come by!";

pub struct ModelServer {
    server: MockServer,
}

impl ModelServer {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(Scripted)
            .mount(&server)
            .await;
        Self { server }
    }

    /// `[ai] base_url`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    /// The request bodies received so far, oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }
}

/// The last user message of a request body.
pub fn question_of(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

struct Scripted;

fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_765_000_000u32,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
}

fn structured(kind: &str, text: &str) -> ResponseTemplate {
    completion(&json!({"kind": kind, "text": text}).to_string())
}

impl Respond for Scripted {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let question = question_of(&body).to_lowercase();
        if question.contains("wedding") {
            structured("answer", GROUNDED)
        } else if question.contains("beard oil") {
            structured("answer", INVENTED)
        } else if question.contains("complain") {
            structured("handoff", "")
        } else if question.contains("slowly") {
            structured("answer", GENERIC).set_delay(Duration::from_secs(5))
        } else if question.contains("broken") {
            ResponseTemplate::new(500).set_body_json(json!({
                "error": {"message": PROVIDER_ERROR, "type": "server_error", "param": null, "code": null}
            }))
        } else if question.contains("garbled") {
            completion("Sure! Haircuts are great.")
        } else {
            structured("answer", GENERIC)
        }
    }
}
