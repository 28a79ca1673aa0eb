//! The web client page, rendered once per server.
//!
//! The HTML lives in `page/index.html` (one self-contained file: inline CSS
//! and JavaScript, no external resource) and is compiled into the binary.
//! [`Page::new`] substitutes the server's name and pre-renders the complete
//! `GET` and `HEAD` responses, so serving the page copies nothing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::response::{Action, COMMON_HEADERS, Response};

/// The page template. `{{server}}` marks where the server name goes.
pub const TEMPLATE: &str = include_str!("../page/index.html");

/// The placeholder in [`TEMPLATE`] replaced by the (HTML-escaped) server name.
pub const SERVER_PLACEHOLDER: &str = "{{server}}";

/// The web client page of one server, with its pre-rendered responses.
#[derive(Debug, Clone)]
pub struct Page {
    /// The server name shown on the page.
    server_name: String,
    /// The full `200 OK` response to `GET`: headers then the HTML.
    get: Bytes,
    /// Length of the header part of `get` (the whole `HEAD` response).
    headers_len: usize,
}

impl Page {
    /// Renders the page for the server called `server_name` (for example
    /// `smol_ws_chat`), and its `GET` and `HEAD` responses.
    pub fn new(server_name: &str) -> Self {
        let html = TEMPLATE.replace(SERVER_PLACEHOLDER, &escape_html(server_name));
        let policy = content_security_policy(&html);
        let headers = format!(
            "HTTP/1.1 200 OK\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-cache\r\n\
             Content-Security-Policy: {policy}\r\n\
             Cross-Origin-Opener-Policy: same-origin\r\n\
             {COMMON_HEADERS}\r\n",
            html.len()
        );
        let headers_len = headers.len();
        let mut get = headers.into_bytes();
        get.extend_from_slice(html.as_bytes());
        Self {
            server_name: server_name.to_owned(),
            get: Bytes::from(get),
            headers_len,
        }
    }

    /// The server name the page was rendered for.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The rendered HTML (the body of the `GET` response).
    pub fn html(&self) -> &[u8] {
        &self.get[self.headers_len..]
    }

    /// The `200 OK` response to `GET /`: headers and page.
    pub fn get_response(&self) -> Response {
        Response::new(200, self.get.clone(), Action::Close)
    }

    /// The `200 OK` response to `HEAD /`: the same headers, no body.
    pub fn head_response(&self) -> Response {
        Response::new(200, self.get.slice(..self.headers_len), Action::Close)
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The contents of every `<tag>…</tag>` block (the tag written without
/// attributes), in order, skipping HTML comments (`<!-- … -->`).
pub(crate) fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        if let Some(comment) = rest[..start].find("<!--") {
            // A comment starts before the tag: skip past its end.
            match rest[comment..].find("-->") {
                Some(end) => rest = &rest[comment + end + 3..],
                None => break,
            }
            continue;
        }
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        blocks.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    blocks
}

/// `'sha256-…'` CSP sources for the given inline blocks.
fn hash_sources(blocks: &[&str]) -> String {
    blocks
        .iter()
        .map(|block| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(block))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Content-Security-Policy for a rendered page: nothing may load from
/// anywhere; only the page's own inline script and style (pinned by hash)
/// run; the page may open WebSockets (and fetch from its own origin).
pub(crate) fn content_security_policy(html: &str) -> String {
    let scripts = hash_sources(&inline_blocks(html, "script"));
    let styles = hash_sources(&inline_blocks(html, "style"));
    format!(
        "default-src 'none'; script-src {scripts}; style-src {styles}; \
         connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(page: &Page) -> &str {
        std::str::from_utf8(page.html()).expect("UTF-8 page")
    }

    fn get_text(page: &Page) -> String {
        String::from_utf8(page.get_response().bytes().to_vec()).expect("UTF-8 response")
    }

    #[test]
    fn server_name_is_substituted() {
        let page = Page::new("smol_ws_chat");
        assert_eq!(page.server_name(), "smol_ws_chat");
        let html = html(&page);
        assert!(!html.contains(SERVER_PLACEHOLDER));
        assert!(html.contains("<title>smol_ws_chat"));
        assert!(html.contains("data-server=\"smol_ws_chat\""));
        assert!(TEMPLATE.matches(SERVER_PLACEHOLDER).count() >= 3);
        assert_eq!(
            html.matches("smol_ws_chat").count(),
            TEMPLATE.matches(SERVER_PLACEHOLDER).count()
        );
    }

    #[test]
    fn server_name_is_escaped() {
        let page = Page::new("<b>\"x\"&'y'");
        let html = html(&page);
        assert!(!html.contains("<b>\"x\""));
        assert!(html.contains("&lt;b&gt;&quot;x&quot;&amp;&#39;y&#39;"));
    }

    #[test]
    fn responses_share_the_same_headers() {
        let page = Page::new("tokio_ws_chat");
        let get = get_text(&page);
        let head = page.head_response();
        let head = std::str::from_utf8(head.bytes()).expect("ASCII");
        assert!(head.ends_with("\r\n\r\n"));
        assert_eq!(get, format!("{head}{}", html(&page)));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", page.html().len())));
        assert!(head.contains("\r\nCache-Control: no-cache\r\n"));
        assert!(head.contains("\r\nX-Content-Type-Options: nosniff\r\n"));
        assert!(head.contains("\r\nConnection: close\r\n"));
        assert_eq!(page.head_response().status(), 200);
        assert!(!page.get_response().is_upgrade());
    }

    #[test]
    fn policy_pins_the_inline_script_and_style() {
        let page = Page::new("async_std_ws_chat");
        let html = html(&page);
        let scripts = inline_blocks(html, "script");
        let styles = inline_blocks(html, "style");
        assert_eq!(scripts.len(), 1, "one inline script");
        assert_eq!(styles.len(), 1, "one inline style");
        let get = get_text(&page);
        let policy = get
            .lines()
            .find_map(|line| line.strip_prefix("Content-Security-Policy: "))
            .expect("CSP header");
        assert!(policy.starts_with("default-src 'none'; "));
        assert!(policy.contains("connect-src 'self' ws: wss:"));
        let script_hash = STANDARD.encode(Sha256::digest(scripts[0]));
        assert!(policy.contains(&format!("script-src 'sha256-{script_hash}';")));
        let style_hash = STANDARD.encode(Sha256::digest(styles[0]));
        assert!(policy.contains(&format!("style-src 'sha256-{style_hash}';")));
        assert!(!policy.contains("unsafe"));
    }

    #[test]
    fn inline_blocks_finds_each_block() {
        let html = "<style>a</style><script>one</script>x<script>two</script><script>open";
        assert_eq!(inline_blocks(html, "script"), vec!["one", "two"]);
        assert_eq!(inline_blocks(html, "style"), vec!["a"]);
        assert!(inline_blocks(html, "pre").is_empty());
    }

    #[test]
    fn inline_blocks_skips_comments() {
        let html = "<!-- a <script> here --><script>real</script><!-- <script>x</script>";
        assert_eq!(inline_blocks(html, "script"), vec!["real"]);
        assert!(inline_blocks("<!-- <script>never closed", "script").is_empty());
    }

    #[test]
    fn blocks_are_the_real_script_and_style() {
        let scripts = inline_blocks(TEMPLATE, "script");
        assert_eq!(scripts.len(), 1);
        assert!(scripts[0].trim_start().starts_with("\"use strict\";"));
        assert!(scripts[0].trim_end().ends_with("})();"));
        let styles = inline_blocks(TEMPLATE, "style");
        assert_eq!(styles.len(), 1);
        assert!(styles[0].contains("--bg:"));
    }

    #[test]
    fn known_hash_value() {
        // sha256("") in base64, as CSP writes it.
        assert_eq!(
            hash_sources(&[""]),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
