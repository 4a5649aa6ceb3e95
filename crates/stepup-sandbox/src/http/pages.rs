//! The HTML of the sandbox's social provider (its authorisation page and its error pages) and
//! the redirects of the flow. Plain HTML with two forms, no script; every value escaped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::authority::social::{ConsentView, PageError};

/// No script, no style from anywhere, no frames; forms post to this origin (the redirects
/// that follow go to Dynamic's side and then to the app).
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

/// `&`, `<`, `>`, `"` and `'` as entities.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.5rem 1.25rem;margin-right:.75rem}}</style></head>\
         <body>{body}</body></html>\n",
        title = escape(title),
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` with
    // the form, which the answer's Origin check refuses. Nothing leaves for other origins.
    secure(headers, "same-origin");
    response
}

fn secure(headers: &mut axum::http::HeaderMap, referrer_policy: &'static str) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(referrer_policy),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The provider's authorisation page: the account, Allow and Deny (one form, two buttons).
pub(super) fn consent(view: &ConsentView) -> Response {
    let provider = escape(view.provider);
    let form_start = format!(
        "<form method=\"post\"><input type=\"hidden\" name=\"consent\" value=\"{}\">",
        escape(&view.consent_id)
    );
    let body = match &view.account {
        Some((display, username)) => format!(
            "<h1>Sign in with {provider}</h1>\
             <p>{app} wants to confirm it is you.</p>\
             <p>Signed in to {provider} as <strong id=\"account\">{display}</strong> \
             (<span id=\"username\">{username}</span>).</p>\
             {form_start}\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\
             </form><p><small>Stepup sandbox: a stand-in for {provider} on this machine.</small></p>",
            app = escape(view.app_name),
            display = escape(display),
            username = escape(username),
        ),
        None => format!(
            "<h1>Sign in with {provider}</h1>\
             <p id=\"no-account\">No {provider} account linked to this sign-in is known here.</p>\
             {form_start}\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Go back</button>\
             </form>"
        ),
    };
    html(
        StatusCode::OK,
        &format!("Sign in with {}", view.provider),
        &body,
    )
}

/// An error of the flow, shown in the browser (never a redirect to an unchecked URL).
pub(super) fn error(e: &PageError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    html(
        status,
        "Sign-in failed",
        &format!(
            "<h1>Sign-in failed</h1><p id=\"error\">{}</p>",
            escape(&e.message)
        ),
    )
}

/// `303 See Other` to `location` (a form's answer and the redirects of the flow alike).
pub(super) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            // The codes in the URL must not reach the next page as a Referer.
            secure(response.headers_mut(), "no-referrer");
            response
        }
        Err(_) => error(&PageError {
            status: 500,
            message: "The redirect URL cannot be sent.".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
