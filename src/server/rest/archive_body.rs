//! The HTTP side of archives: an export streamed as a response body, and an upload's body read
//! as a stream with its size limit.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use futures::TryStreamExt;
use tokio::io::AsyncRead;

use crate::{auth::gate::Export, error::Error};

/// `name` as a file name that needs no quoting or escaping in a header.
pub fn safe_file_name(name: &str, zstd: bool) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = base.trim_start_matches('.');
    let base = if base.is_empty() { "backup" } else { base };
    format!("{base}.tar{}", if zstd { ".zst" } else { "" })
}

/// Bytes of one chunk of a streamed response body.
const CHUNK_BYTES: usize = 256 << 10;

/// The archive as a streamed response (see [`crate::server::archive_pipe`]).
pub fn streamed(export: Export) -> Response {
    let opts = export.options().clone();
    let body = Body::from_stream(crate::server::archive_pipe::chunks(export, CHUNK_BYTES));
    let kind = if opts.zstd {
        "application/zstd"
    } else {
        "application/x-tar"
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        safe_file_name(&opts.name, opts.zstd)
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    (headers, body).into_response()
}

/// An upload's body as a reader; refused at once when its Content-Length says it is larger
/// than `limit` (the import enforces the limit on the bytes too, for chunked uploads).
pub fn upload(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<impl AsyncRead + Send + Unpin, Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::ArchiveTooLarge { limit });
    }
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    Ok(tokio_util::io::StreamReader::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_need_no_escaping() {
        assert_eq!(safe_file_name("nightly_1", false), "nightly_1.tar");
        assert_eq!(safe_file_name("a.b-c", true), "a.b-c.tar.zst");
        assert_eq!(safe_file_name("x\"; y/../z", false), "x___y_.._z.tar");
        assert_eq!(safe_file_name("..", false), "backup.tar");
    }

    #[test]
    fn a_declared_size_over_the_limit_is_refused_at_once() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("101"));
        let e = upload(&h, Body::empty(), 100).err().unwrap();
        assert!(matches!(e, Error::ArchiveTooLarge { limit: 100 }));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
        assert!(upload(&h, Body::empty(), 100).is_ok());
    }

    #[test]
    fn both_routes_are_in_the_openapi_document() {
        let doc =
            serde_json::to_value(<super::super::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        let get = &doc["paths"]["/api/v2/backups/{name}/archive"]["get"];
        assert!(get.is_object(), "{doc}");
        let params: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(params, ["storage", "name", "zstd"]);
        let post = &doc["paths"]["/api/v2/backups/archive"]["post"];
        assert!(post["responses"]["413"].is_object());
        assert!(doc["components"]["schemas"]["ImportReport"].is_object());
    }
}
