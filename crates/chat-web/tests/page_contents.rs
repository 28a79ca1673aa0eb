//! Checks on the web client page as served: self-contained, no HTML built
//! from strings, the documented element ids present, every JSON reply type
//! handled.

use chat_web::{Page, TEMPLATE};

/// Element ids the browser tests rely on (documented in the page's header
/// comment).
const IDS: &[&str] = &[
    "status",
    "reconnect",
    "whoami",
    "name",
    "password",
    "login",
    "logout",
    "register",
    "users",
    "user-all",
    "rooms",
    "room-name",
    "join",
    "log",
    "jump",
    "target",
    "message",
    "send",
    "command",
    "command-send",
];

/// The header comment (from `<!--` to the first `-->`).
fn header_comment() -> &'static str {
    let start = TEMPLATE.find("<!--").expect("header comment");
    let end = TEMPLATE[start..].find("-->").expect("comment end") + start;
    &TEMPLATE[start..end]
}

/// The one inline script.
fn script() -> &'static str {
    let start = TEMPLATE.find("<script>").expect("script") + "<script>".len();
    let end = TEMPLATE[start..].find("</script>").expect("script end") + start;
    &TEMPLATE[start..end]
}

/// Every occurrence of `attribute="value"` in the markup, as values.
fn attribute_values(html: &str, attribute: &str) -> Vec<String> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .map(|(index, _)| {
            let rest = &html[index + needle.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
        })
        .collect()
}

#[test]
fn no_external_resources() {
    assert!(!TEMPLATE.contains("http://"), "no http:// URL");
    assert!(!TEMPLATE.contains("https://"), "no https:// URL");
    assert!(!TEMPLATE.contains("//cdn"), "no CDN");
    assert!(
        attribute_values(TEMPLATE, "src").is_empty(),
        "no src attribute"
    );
    assert_eq!(attribute_values(TEMPLATE, "href"), vec!["data:,"]);
    assert!(!TEMPLATE.contains("@import"));
    assert!(!TEMPLATE.contains("url("));
    assert!(!TEMPLATE.contains("fetch("));
    assert!(!TEMPLATE.contains("XMLHttpRequest"));
    assert_eq!(TEMPLATE.matches("<script").count(), 1, "one script element");
    assert_eq!(TEMPLATE.matches("<style").count(), 1, "one style element");
}

#[test]
fn user_text_is_never_parsed_as_html() {
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "DOMParser",
        "createContextualFragment",
    ] {
        assert!(!TEMPLATE.contains(forbidden), "page uses {forbidden}");
    }
    // Text goes in through textContent / text nodes.
    assert!(script().contains("textContent"));
    assert!(script().contains("createTextNode"));
}

#[test]
fn no_inline_handlers_or_style_attributes() {
    // The CSP pins the script and style blocks by hash: attributes would not run.
    let markup = TEMPLATE.replace(script(), "");
    for attribute in [
        "onclick", "onload", "onsubmit", "oninput", "onchange", "style",
    ] {
        assert!(
            attribute_values(&markup, attribute).is_empty(),
            "{attribute} attribute in markup"
        );
    }
    assert!(!script().contains("setAttribute(\"style\""));
    assert!(!script().contains(".onclick"));
}

#[test]
fn documented_ids_exist_once() {
    let comment = header_comment();
    let ids = attribute_values(TEMPLATE, "id");
    for id in IDS {
        assert!(comment.contains(&format!("#{id}")), "#{id} not documented");
        assert_eq!(
            ids.iter().filter(|found| found == id).count(),
            1,
            "id {id} must appear exactly once"
        );
    }
    // Every id the script looks up exists.
    for (index, _) in script().match_indices("byId(\"") {
        let rest = &script()[index + "byId(\"".len()..];
        let id = &rest[..rest.find('"').expect("closing quote")];
        assert!(
            ids.iter().any(|found| found == id),
            "byId({id}) has no element"
        );
    }
}

#[test]
fn test_hooks_are_documented_and_set() {
    let comment = header_comment();
    for hook in [
        "body[data-server]",
        "body[data-state]",
        "body[data-user]",
        "body[data-format]",
    ] {
        assert!(comment.contains(hook), "{hook} not documented");
    }
    let script = script();
    for state in ["\"connecting\"", "\"connected\"", "\"reconnecting\""] {
        assert!(script.contains(&format!("setState({state}")), "{state}");
    }
    assert!(script.contains("ui.body.dataset.user = name"));
    assert!(script.contains("delete ui.body.dataset.user"));
    assert!(script.contains("ui.body.dataset.format = \"json\""));
}

#[test]
fn speaks_the_protocol() {
    let script = script();
    // Same host and port, path /ws, ws: or wss: after the page's scheme.
    assert!(script.contains("`${scheme}//${location.host}/ws`"));
    assert!(script.contains("send(\"format json\")"));
    // Every JSON reply type of PROTOCOL.md section 4.
    for kind in [
        "login", "logout", "message", "join", "left", "userlist", "rooms", "info", "server",
        "error",
    ] {
        assert!(script.contains(&format!("case \"{kind}\":")), "{kind}");
    }
    for command in [
        "`msgall ${text}`",
        "`msg ${state.target} ${text}`",
        "`login ${name} ${password}`",
        "`login ${name}`",
        "`register ${name} ${password}`",
        "send(\"logout\")",
        "send(\"userlist\")",
        "send(\"rooms\")",
        "`join ${room}`",
        "`left ${leave.dataset.leave}`",
    ] {
        assert!(script.contains(command), "{command}");
    }
}

#[test]
fn rendered_page_names_the_server() {
    let page = Page::new("tokio_ws_chat");
    let html = std::str::from_utf8(page.html()).expect("UTF-8");
    assert!(html.contains("<title>tokio_ws_chat · async-chat</title>"));
    assert!(html.contains("<body data-server=\"tokio_ws_chat\""));
    assert!(html.contains("<h1>tokio_ws_chat "));
    assert!(!html.contains("{{server}}"));
    assert!(html.starts_with("<!DOCTYPE html>"));
}
