use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_answers_ready_while_the_database_is_reachable() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn readyz_answers_503_once_the_database_is_gone_while_healthz_stays_ok() {
    let app = spawn_app().await;
    app.db().close_by_ref().await.unwrap();

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");

    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// The directives of a `Content-Security-Policy` header, by name.
fn directives(policy: &str) -> std::collections::HashMap<&str, Vec<&str>> {
    policy
        .split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            Some((words.next()?, words.collect()))
        })
        .collect()
}

#[tokio::test]
async fn every_response_carries_a_strict_content_security_policy_and_forbids_framing_and_sniffing()
{
    let app = spawn_app().await;
    let signed_in = app.signed_in_browser().await;
    let stylesheet = flowhq::views::assets::css_url();
    let responses = [
        ("page", app.get("/").await),
        ("sign-in page", app.get("/admin/login").await),
        ("admin page", signed_in.get("/admin").await),
        ("error page", app.get("/no-such-page").await),
        ("refused API call", app.get("/api/admin/tenants").await),
        (
            "API answer",
            app.api(reqwest::Method::GET, "/api/admin/tenants")
                .send()
                .await
                .unwrap(),
        ),
        ("static file", app.get(&stylesheet).await),
    ];
    for (what, response) in responses {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let policy = header("content-security-policy")
            .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
        let policy = directives(&policy);
        let expected = [
            ("default-src", vec!["'self'"]),
            ("img-src", vec!["'self'", "data:"]),
            ("object-src", vec!["'none'"]),
            ("base-uri", vec!["'none'"]),
            ("form-action", vec!["'self'"]),
            ("frame-ancestors", vec!["'none'"]),
        ];
        for (name, sources) in expected {
            assert_eq!(policy.get(name), Some(&sources), "{what}: {name}");
        }
        // Nothing widens script, style or connect sources past 'self'.
        for (name, sources) in &policy {
            for loose in ["'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"] {
                assert!(!sources.contains(&loose), "{what}: {name} allows {loose}");
            }
        }
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header("referrer-policy").as_deref(), Some("same-origin"));
    }
}
