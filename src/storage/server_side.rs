//! Server-side copies between two buckets of one S3 endpoint.
//!
//! `object_store` copies only inside one store (one bucket). S3's CopyObject takes its source in
//! any bucket the credentials can read (`x-amz-copy-source: /srcbucket/key`), so when Milvus'
//! bucket and the backup bucket sit on one endpoint with one set of credentials, the bytes never
//! pass through milvault. This module signs those few requests itself with `object_store`'s own
//! SigV4 signer ([`AwsAuthorizer`]) and the store's credential provider (static keys or IAM), over
//! `object_store`'s HTTP client. Objects over 5 GiB (CopyObject's limit) are copied part by part
//! with UploadPartCopy.

use backon::Retryable;
use std::sync::Arc;

use object_store::{
    aws::{AmazonS3, AwsAuthorizer},
    client::{HttpClient, HttpConnector, HttpRequest, HttpRequestBody, ReqwestConnector},
    ClientOptions,
};

use crate::config::{StorageConfig, StorageKind};

/// CopyObject copies objects up to this size in one request (S3's limit).
pub const COPY_OBJECT_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Part size of UploadPartCopy for larger objects.
pub const COPY_PART_SIZE: u64 = 512 * 1024 * 1024;

/// One S3 bucket as the server-side copier sees it: the store (for its credentials) and where to
/// send requests.
pub struct S3Bucket {
    store: Arc<AmazonS3>,
    http: HttpClient,
    config: StorageConfig,
}

impl std::fmt::Debug for S3Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.config.describe())
    }
}

impl S3Bucket {
    /// `store` must be the `AmazonS3` built from `config`.
    pub fn new(
        store: Arc<AmazonS3>,
        config: &StorageConfig,
        options: &ClientOptions,
    ) -> std::result::Result<S3Bucket, object_store::Error> {
        Ok(S3Bucket {
            store,
            http: ReqwestConnector::default().connect(options)?,
            config: config.clone(),
        })
    }

    /// Whether one signed request can read from `self` and write into `other`: both S3, one
    /// endpoint and region, the same credentials.
    pub fn same_endpoint_and_credentials(&self, other: &S3Bucket) -> bool {
        let (a, b) = (&self.config, &other.config);
        a.kind == StorageKind::S3
            && b.kind == StorageKind::S3
            && a.endpoint() == b.endpoint()
            && a.address == b.address
            && region(a) == region(b)
            && a.use_iam == b.use_iam
            && (a.use_iam
                || (a.access_key_id == b.access_key_id
                    && a.secret_access_key.expose() == b.secret_access_key.expose()))
    }

    fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The URL of `key` in this bucket (path style on a configured endpoint, virtual-hosted on
    /// AWS itself), plus `query`.
    fn url(&self, key: &str, query: &str) -> String {
        let q = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        if self.config.address.is_empty() {
            format!(
                "https://{}.s3.{}.amazonaws.com/{}{q}",
                self.bucket(),
                region(&self.config),
                encode_key(key)
            )
        } else {
            format!(
                "{}/{}/{}{q}",
                self.config.endpoint().trim_end_matches('/'),
                self.bucket(),
                encode_key(key)
            )
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<String, String> {
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| format!("no credentials: {e}"))?;
        // a few attempts: S3 servers answer 500/503 now and then; a 4xx is final
        let attempt = || self.send_once(&credential, method, url, headers, body.clone());
        attempt
            .retry(
                backon::ExponentialBuilder::default()
                    .with_min_delay(std::time::Duration::from_millis(500))
                    .with_max_times(3),
            )
            .when(|e: &Failed| e.again)
            .await
            .map_err(|e| e.message)
    }

    /// One signed request; its answer's body on success.
    async fn send_once(
        &self,
        credential: &object_store::aws::AwsCredential,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<String, Failed> {
        let again = |message: String| Failed {
            message,
            again: true,
        };
        let mut builder = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, v.as_str());
        }
        let mut request: HttpRequest =
            builder
                .body(HttpRequestBody::from(body))
                .map_err(|e| Failed {
                    message: e.to_string(),
                    again: false,
                })?;
        let region = region(&self.config);
        AwsAuthorizer::new(credential, "s3", &region)
            .try_authorize(&mut request, None)
            .map_err(|e| Failed {
                message: format!("signing: {e}"),
                again: false,
            })?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| again(e.to_string()))?;
        let status = response.status();
        let text = response
            .into_body()
            .bytes()
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| again(e.to_string()))?;
        // CopyObject may answer 200 and still fail: the error is then in the body
        let answer = Answer::read(&text);
        if status.is_success() && answer.code.is_none() {
            return Ok(text);
        }
        Err(Failed {
            message: format!(
                "HTTP {status}: {}",
                answer.message.as_deref().unwrap_or(&text)
            ),
            again: !status.is_client_error(),
        })
    }

    /// Copies `src_key` of `src` to `dst_key` of `self` on the server; `size` decides between one
    /// CopyObject and UploadPartCopy.
    pub async fn copy_from(
        &self,
        src: &S3Bucket,
        src_key: &str,
        dst_key: &str,
        size: u64,
    ) -> Result<(), String> {
        let source = format!("/{}/{}", src.bucket(), encode_key(src_key));
        if size <= COPY_OBJECT_LIMIT {
            let answer = self
                .send(
                    "PUT",
                    &self.url(dst_key, ""),
                    &[("x-amz-copy-source", source)],
                    Vec::new(),
                )
                .await?;
            acknowledged(&answer, "CopyObject")
        } else {
            self.multipart_copy(&source, dst_key, size).await
        }
    }

    async fn multipart_copy(&self, source: &str, dst_key: &str, size: u64) -> Result<(), String> {
        let created = self
            .send("POST", &self.url(dst_key, "uploads="), &[], Vec::new())
            .await?;
        let upload_id = Answer::read(&created).upload_id.ok_or_else(|| {
            format!("CreateMultipartUpload answered without an UploadId: {created}")
        })?;
        let parts: Result<Vec<String>, String> = async {
            let mut etags = Vec::new();
            let mut start = 0u64;
            let mut number = 1u32;
            while start < size {
                let end = (start + COPY_PART_SIZE).min(size) - 1;
                let answer = self
                    .send(
                        "PUT",
                        &self.url(
                            dst_key,
                            &format!("partNumber={number}&uploadId={}", encode_key(&upload_id)),
                        ),
                        &[
                            ("x-amz-copy-source", source.to_string()),
                            ("x-amz-copy-source-range", format!("bytes={start}-{end}")),
                        ],
                        Vec::new(),
                    )
                    .await?;
                let etag = Answer::read(&answer)
                    .etag
                    .ok_or_else(|| format!("UploadPartCopy answered without an ETag: {answer}"))?;
                etags.push(etag);
                start = end + 1;
                number += 1;
            }
            Ok(etags)
        }
        .await;
        let abort_url = self.url(dst_key, &format!("uploadId={}", encode_key(&upload_id)));
        let etags = match parts {
            Ok(p) => p,
            Err(e) => {
                let _ = self.send("DELETE", &abort_url, &[], Vec::new()).await;
                return Err(e);
            }
        };
        let mut body = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                quick_xml::escape::escape(etag.as_str())
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let completed = self
            .send("POST", &abort_url, &[], body.into_bytes())
            .await
            .and_then(|answer| acknowledged(&answer, "CompleteMultipartUpload"));
        if let Err(e) = completed {
            let _ = self.send("DELETE", &abort_url, &[], Vec::new()).await;
            return Err(e);
        }
        Ok(())
    }
}

/// A successful copy answers with the new object's ETag; a 200 with an empty or unreadable body
/// (a proxy, a server that dropped the request) is not a copy.
fn acknowledged(answer: &str, call: &str) -> Result<(), String> {
    match Answer::read(answer).etag {
        Some(etag) if !etag.trim().is_empty() => Ok(()),
        _ => Err(format!(
            "{call} answered success without the copy's ETag ({} bytes of answer): not counted as copied",
            answer.len()
        )),
    }
}

fn region(c: &StorageConfig) -> String {
    if c.region.is_empty() {
        "us-east-1".into()
    } else {
        c.region.clone()
    }
}

/// Percent-encodes an object key for a URL path (and for `x-amz-copy-source`), keeping '/'.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A failed request: what went wrong, and whether trying again may help (not after a 4xx).
#[derive(Debug)]
struct Failed {
    message: String,
    again: bool,
}

/// The fields milvault reads from S3's XML answers (CopyObjectResult, CopyPartResult,
/// InitiateMultipartUploadResult, CompleteMultipartUploadResult, Error), whichever the root.
#[derive(Debug, Default, serde::Deserialize)]
struct Answer {
    #[serde(rename = "ETag")]
    etag: Option<String>,
    #[serde(rename = "UploadId")]
    upload_id: Option<String>,
    /// Only error answers have a code.
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

impl Answer {
    /// An answer's fields; an empty or unreadable body (a proxy's HTML page) has none.
    fn read(xml: &str) -> Answer {
        quick_xml::de::from_str(xml).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_for_urls() {
        assert_eq!(encode_key("root/a b/1+2"), "root/a%20b/1%2B2");
        assert_eq!(encode_key("files/insert_log/1/2"), "files/insert_log/1/2");
    }

    #[test]
    fn a_copy_is_done_only_when_the_answer_names_its_etag() {
        let ok = "<CopyObjectResult><LastModified>x</LastModified><ETag>\"5d41\"</ETag></CopyObjectResult>";
        assert!(acknowledged(ok, "CopyObject").is_ok());
        assert!(acknowledged("", "CopyObject").is_err());
        assert!(acknowledged("<html>gateway</html>", "CopyObject").is_err());
        assert!(acknowledged(
            "<CopyObjectResult><ETag></ETag></CopyObjectResult>",
            "CopyObject"
        )
        .is_err());
    }

    #[test]
    fn reads_the_fields_of_s3_answers() {
        let x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>abc</UploadId></InitiateMultipartUploadResult>";
        let a = Answer::read(x);
        assert_eq!(a.upload_id.as_deref(), Some("abc"));
        assert_eq!((a.etag, a.code), (None, None));
        // ETags come quoted, as entities
        let part = "<CopyPartResult><LastModified>2026-12-06T00:00:00Z</LastModified><ETag>&quot;5d41&quot;</ETag></CopyPartResult>";
        assert_eq!(Answer::read(part).etag.as_deref(), Some("\"5d41\""));
        let err = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>";
        let e = Answer::read(err);
        assert_eq!(e.code.as_deref(), Some("SlowDown"));
        assert_eq!(
            e.message.as_deref(),
            Some("Please reduce your request rate.")
        );
        assert!(Answer::read("<html>gateway</html>").etag.is_none());
        assert!(Answer::read("").code.is_none());
    }
}
