//! A browser without a browser engine: a cookie jar, no redirects followed,
//! and the admin console's sign-in.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::*;

/// A browser: a cookie jar, no redirects followed.
pub struct Browser {
    pub client: reqwest::Client,
    pub(super) jar: Arc<Jar>,
    pub(super) base: String,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// GETs a page that must answer 200 and returns its HTML.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        let status = response.status();
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {html}");
        html
    }

    pub async fn post_form<T: serde::Serialize + ?Sized>(&self, path: &str, form: &T) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request failed")
    }

    /// The session's CSRF token, as the dashboard's forms carry it.
    pub async fn csrf(&self) -> String {
        csrf_of(&self.page("/admin").await)
    }

    /// Posts a form the way a page of the console would: with the session's CSRF token.
    pub async fn submit(&self, path: &str, form: &[(String, String)]) -> Response {
        let mut fields = form.to_vec();
        fields.push(("csrf_token".to_owned(), self.csrf().await));
        self.post_form(path, &fields).await
    }

    /// Puts a cookie for this server into the jar.
    pub fn add_cookie(&self, name: &str, value: &str) {
        let url = reqwest::Url::parse(&self.url("/")).unwrap();
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/; HttpOnly"), &url);
    }

    /// A cookie this browser would send to the admin console's pages.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.url("/admin/login")).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    /// The sign-in form's CSRF token, its cookie in the jar. A signed-in
    /// browser is redirected away from the form, so then the form is loaded
    /// as a tab opened earlier would hold it: fetched without cookies, its
    /// cookie added to this jar.
    pub async fn login_form(&self) -> String {
        let response = self.get("/admin/login").await;
        if response.status() == StatusCode::OK {
            return csrf_of(&response.text().await.unwrap());
        }
        let url = reqwest::Url::parse(&self.url("/admin/login")).unwrap();
        let response = reqwest::get(url.clone()).await.expect("request failed");
        assert_eq!(response.status(), StatusCode::OK, "the sign-in form");
        for cookie in response.headers().get_all(reqwest::header::SET_COOKIE) {
            self.jar.add_cookie_str(cookie.to_str().unwrap(), &url);
        }
        csrf_of(&response.text().await.unwrap())
    }
}

/// Signs the browser in as the bootstrap admin; returns the answer to the POST.
pub async fn sign_in(browser: &Browser) -> Response {
    sign_in_as(browser, ADMIN_USERNAME, ADMIN_PASSWORD).await
}

/// Loads the sign-in form and posts these credentials with its CSRF token.
pub async fn sign_in_as(browser: &Browser, username: &str, password: &str) -> Response {
    let csrf_token = browser.login_form().await;
    browser
        .post_form(
            "/admin/login",
            &[
                ("csrf_token", csrf_token.as_str()),
                ("username", username),
                ("password", password),
            ],
        )
        .await
}

/// The `Location` of a redirect.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("{} without a Location header", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

impl Browser {
    /// A cookie this browser would send with a request to `path`.
    pub fn cookie_at(&self, path: &str, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.url(path)).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
    }

    /// The portal session cookie, if the browser has one.
    pub fn portal_cookie(&self) -> Option<String> {
        self.cookie_at("/portal", "flowhq_portal")
    }

    /// The cookie binding a started Google sign-in to this browser.
    pub fn oauth_cookie(&self) -> Option<String> {
        self.cookie_at("/auth/google/callback", "flowhq_oauth")
    }

    /// The portal session's CSRF token, as the portal's forms carry it
    /// (read from the inbox, the one page owners and STAFF both open).
    pub async fn portal_csrf(&self) -> String {
        csrf_of(&self.page("/portal/inbox").await)
    }

    /// A JSON request to the portal API the way the portal's own script
    /// sends it: `application/json`, same origin.
    pub fn portal_json(&self, method: Method, path: &str, body: &Value) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(reqwest::header::ORIGIN, &self.base)
            .json(body)
    }
}
