//! The human-readable API page (`/api/docs`): every operation and schema of the OpenAPI
//! document as one self-contained HTML page (inline CSS, no scripts, no CDN), so it works on a
//! cluster without internet access.

use std::fmt::Write;

use serde_json::Value;
use utoipa::openapi::OpenApi;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Renders the page.
pub fn render(doc: &OpenApi) -> String {
    let v = serde_json::to_value(doc).unwrap_or(Value::Null);
    let mut h = String::with_capacity(64 * 1024);
    let title = text(&v["info"]["title"]);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head><body>\
<header><h1>{t} <small>{ver}</small></h1><p>{desc}</p>\
<p><a href=\"/api/openapi.json\">OpenAPI document (JSON)</a> · <a href=\"/\">Portal</a></p></header><nav><h2>Operations</h2><ul>",
        t = esc(&title),
        ver = esc(&text(&v["info"]["version"])),
        desc = esc(&text(&v["info"]["description"])),
    );
    let ops = operations(&v);
    for (method, path, _) in &ops {
        let _ = write!(
            h,
            "<li><a href=\"#{id}\"><span class=\"m {method}\">{M}</span> {p}</a></li>",
            id = anchor(method, path),
            M = method.to_uppercase(),
            p = esc(path),
        );
    }
    h.push_str("</ul></nav><main>");
    for (method, path, op) in &ops {
        operation(&mut h, method, path, op);
    }
    h.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = v["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            schema(&mut h, name, s);
        }
    }
    h.push_str("</main></body></html>");
    h
}

fn operations(v: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    if let Some(paths) = v["paths"].as_object() {
        for (path, item) in paths {
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    out.push((m.to_string(), path.clone(), op.clone()));
                }
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    out
}

fn operation(h: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(
        h,
        "<section class=\"op\" id=\"{id}\"><h3><span class=\"m {method}\">{M}</span> <code>{p}</code></h3><p>{d}</p>",
        id = anchor(method, path),
        M = method.to_uppercase(),
        p = esc(path),
        d = esc(&first_text(&[&op["description"], &op["summary"]])),
    );
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        h.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>");
        for p in params {
            let _ = write!(
                h,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&text(&p["name"])),
                if p["required"].as_bool() == Some(true) {
                    " <em>required</em>"
                } else {
                    ""
                },
                esc(&text(&p["in"])),
                type_of(&p["schema"]),
                esc(&text(&p["description"])),
            );
        }
        h.push_str("</table>");
    }
    if let Some(body) = op["requestBody"]["content"].as_object() {
        for (mime, c) in body {
            let _ = write!(
                h,
                "<h4>Request body</h4><p><code>{}</code>: {}</p>",
                esc(mime),
                type_of(&c["schema"])
            );
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        h.push_str(
            "<h4>Responses</h4><table><tr><th>status</th><th>body</th><th>description</th></tr>",
        );
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|c| type_of(&c["schema"]))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                body,
                esc(&text(&r["description"]))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

fn schema(h: &mut String, name: &str, s: &Value) {
    let _ = write!(
        h,
        "<section class=\"schema\" id=\"schema-{n}\"><h3>{n}</h3><p>{d}</p>",
        n = esc(name),
        d = esc(&text(&s["description"]))
    );
    if let Some(props) = s["properties"].as_object() {
        let required: Vec<&str> = s["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        h.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
        for (field, p) in props {
            let _ = write!(
                h,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                esc(field),
                if required.contains(&field.as_str()) {
                    " <em>required</em>"
                } else {
                    ""
                },
                type_of(p),
                esc(&text(&p["description"]))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

/// A schema's type in words, with links to named schemas.
fn type_of(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(alts) = s[key].as_array() {
            let parts: Vec<String> = alts
                .iter()
                .filter(|a| a["type"].as_str() != Some("null"))
                .map(type_of)
                .collect();
            return parts.join(" | ");
        }
    }
    let ty = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "object".to_string(),
    };
    if ty == "array" {
        return format!("array of {}", type_of(&s["items"]));
    }
    match s["format"].as_str() {
        Some(f) => format!("{} ({})", esc(&ty), esc(f)),
        None => esc(&ty),
    }
}

fn anchor(method: &str, path: &str) -> String {
    let slug: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("op-{method}{slug}")
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn first_text(vs: &[&Value]) -> String {
    vs.iter()
        .map(|v| text(v))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

const CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;display:grid;grid-template-columns:18rem 1fr;color:#1d2530}\
header{grid-column:1/3;padding:1rem 2rem;background:#14324a;color:#fff}header a{color:#bfe0ff}\
h1 small{font-size:.6em;opacity:.7}nav{padding:1rem;border-right:1px solid #dde3ea;font-size:13px}\
nav ul{list-style:none;padding:0}nav a{text-decoration:none;color:inherit}main{padding:1rem 2rem;min-width:0}\
.op,.schema{border:1px solid #dde3ea;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}\
.m{display:inline-block;min-width:4em;font:bold 12px monospace;text-align:center;border-radius:3px;color:#fff;padding:1px 4px}\
.get{background:#2a7ab0}.post{background:#2c8a4b}.delete{background:#b53a3a}.put,.patch{background:#a8741a}\
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-top:1px solid #e6ebf0;padding:4px 8px;text-align:left;vertical-align:top}\
code{background:#f1f4f7;padding:0 3px;border-radius:3px}em{color:#b53a3a;font-size:12px}\
@media(max-width:800px){body{display:block}nav{display:none}}";

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi as _;

    #[test]
    fn the_page_lists_every_operation_and_needs_nothing_external() {
        let doc = crate::server::rest::ApiDoc::openapi();
        let page = render(&doc);
        for path in [
            "/api/v1/create",
            "/api/v1/get_restore",
            "/api/v2/backups/{name}/restore",
        ] {
            assert!(
                page.contains(&format!("<code>{path}</code>")),
                "{path} missing"
            );
        }
        assert!(page.contains("id=\"schema-RestoreBackupRequestV1\""));
        assert!(page.contains("dropExistCollection"));
        assert!(
            !page.contains("<script"),
            "the page must work without scripts"
        );
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external assets"
        );
    }
}
