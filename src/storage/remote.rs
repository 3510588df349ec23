//! Remote stores (S3 and its kin, GCS, Azure Blob) opened from a storage's configuration, with
//! the endpoints, credentials and retries each service wants.

use std::sync::Arc;

use object_store::{
    aws::AmazonS3Builder, azure::MicrosoftAzureBuilder, gcp::GoogleCloudStorageBuilder,
    ClientOptions, ObjectStore,
};

use crate::{
    config::{is_loopback_host, GcsEndpoint, StorageConfig, StorageKind},
    storage::server_side::S3Bucket,
};

/// A remote store, and the S3 bucket behind it when it is one (for copies on the server).
pub(super) type Remote = (Arc<dyn ObjectStore>, Option<Arc<S3Bucket>>);

/// Opens the bucket or container `c` names on its service.
pub(super) fn build(c: &StorageConfig) -> std::result::Result<Remote, object_store::Error> {
    let client = ClientOptions::new()
        .with_allow_http(!c.use_ssl)
        .with_connect_timeout(std::time::Duration::from_secs(10))
        .with_timeout(std::time::Duration::from_secs(300));
    // S3 servers answer 500/503 now and then (SeaweedFS while it grows a bucket's first volume,
    // AWS when it says SlowDown): retry for about 25 s before giving up on a file
    let retry = object_store::RetryConfig {
        max_retries: 7,
        retry_timeout: std::time::Duration::from_secs(60),
        backoff: object_store::BackoffConfig {
            init_backoff: std::time::Duration::from_millis(200),
            max_backoff: std::time::Duration::from_secs(8),
            base: 2.0,
        },
    };
    Ok(match c.kind {
        StorageKind::S3 => {
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(&c.bucket)
                .with_region(if c.region.is_empty() {
                    "us-east-1"
                } else {
                    &c.region
                })
                .with_client_options(client.clone())
                .with_retry(retry);
            if !c.address.is_empty() {
                b = b
                    .with_endpoint(c.endpoint())
                    .with_virtual_hosted_style_request(false);
            }
            if !c.use_iam {
                b = b
                    .with_access_key_id(&c.access_key_id)
                    .with_secret_access_key(c.secret_access_key.expose());
            }
            let s3 = Arc::new(b.build()?);
            let bucket = S3Bucket::new(s3.clone(), c, &client)?;
            (s3, Some(Arc::new(bucket)))
        }
        StorageKind::GcpNative => {
            let mut b = GoogleCloudStorageBuilder::new()
                .with_bucket_name(&c.bucket)
                .with_client_options(client)
                .with_retry(retry);
            let endpoint = c.gcs_endpoint();
            if let GcsEndpoint::GoogleAt(url) | GcsEndpoint::Emulator(url) = &endpoint {
                b = b.with_base_url(url);
            }
            let credentials = gcs_credentials(c.gcp_credential_json.expose());
            if let GcsEndpoint::Emulator(url) = &endpoint {
                if credentials != GcsCredentials::Default
                    && !c.use_ssl
                    && !is_loopback_host(c.address.trim())
                {
                    return Err(object_store::Error::Generic {
                        store: "GCS",
                        source: format!(
                            "refusing to send the service account's tokens in clear text to {url}: gcpnative's address names an emulator there (leave address and port out for Google's own service, or set useSSL: true)"
                        )
                        .into(),
                    });
                }
            }
            b = match credentials {
                GcsCredentials::Key(json) => b.with_service_account_key(json),
                GcsCredentials::KeyFile(path) => b.with_service_account_path(path),
                // an emulator takes any token (object_store 0.14's `with_skip_signature` is not
                // honoured by writes: they still ask the metadata server for one)
                GcsCredentials::Default if matches!(endpoint, GcsEndpoint::Emulator(_)) => {
                    b.with_bearer_token("emulator")
                }
                // on Google, the machine's own (metadata server, GOOGLE_APPLICATION_CREDENTIALS)
                GcsCredentials::Default => b,
            };
            (Arc::new(b.build()?), None)
        }
        StorageKind::Azure => {
            let mut b = MicrosoftAzureBuilder::new()
                .with_container_name(&c.bucket)
                .with_account(&c.access_key_id)
                .with_client_options(client);
            if let Some(url) = azure_account_url(c) {
                b = b.with_endpoint(url);
            }
            if !c.use_iam {
                b = b.with_access_key(c.secret_access_key.expose());
            }
            (Arc::new(b.build()?), None)
        }
        StorageKind::Local => unreachable!("local storage is opened without a remote client"),
    })
}

/// Where a gcpnative storage's credentials come from.
#[derive(Debug, PartialEq)]
enum GcsCredentials<'a> {
    /// The service account key itself (`gcpCredentialJSON` holding JSON, as Milvus reads it).
    Key(&'a str),
    /// A service account key file (`gcpCredentialJSON` naming a path, as milvus-backup reads it).
    KeyFile(&'a str),
    /// Nothing given: the machine's own (application default) credentials.
    Default,
}

/// `gcpCredentialJSON` read both ways: Milvus takes the key's JSON, milvus-backup a file's path.
fn gcs_credentials(value: &str) -> GcsCredentials<'_> {
    let value = value.trim();
    if value.is_empty() {
        GcsCredentials::Default
    } else if value.starts_with('{') {
        GcsCredentials::Key(value)
    } else {
        GcsCredentials::KeyFile(value)
    }
}

/// The Blob service URL of an Azure storage, from `address` and `port` as Milvus reads them:
/// none (the public `https://ACCOUNT.blob.core.windows.net`) when the address is left at
/// backup.yaml's default (`localhost:9000`), empty or `core.windows.net`; an emulator such as
/// Azurite (`http://127.0.0.1:10000/ACCOUNT`) when it is an IP address or `localhost`; else
/// another cloud's endpoint suffix (`https://ACCOUNT.blob.core.chinacloudapi.cn`).
fn azure_account_url(c: &StorageConfig) -> Option<String> {
    let address = c.address.trim();
    let untouched = address == "localhost" && c.port == 9000;
    if address.is_empty() || untouched || address == "core.windows.net" {
        return None;
    }
    let scheme = if c.use_ssl { "https" } else { "http" };
    let port = if c.port == 0 {
        String::new()
    } else {
        format!(":{}", c.port)
    };
    let local = address == "localhost" || address.parse::<std::net::IpAddr>().is_ok();
    Some(if local {
        format!("{scheme}://{address}{port}/{}", c.access_key_id)
    } else {
        format!("{scheme}://{}.blob.{address}{port}", c.access_key_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::tests_support::config as mem_config;

    #[test]
    fn azure_urls_follow_the_address() {
        let mut c = mem_config();
        c.kind = StorageKind::Azure;
        c.access_key_id = "acct".into();
        c.address = "localhost".into();
        c.port = 9000;
        assert_eq!(
            azure_account_url(&c),
            None,
            "backup.yaml's untouched default"
        );
        c.address = "core.windows.net".into();
        c.port = 0;
        assert_eq!(azure_account_url(&c), None);
        c.address = "127.0.0.1".into();
        c.port = 10000;
        assert_eq!(
            azure_account_url(&c).as_deref(),
            Some("http://127.0.0.1:10000/acct")
        );
        c.address = "core.chinacloudapi.cn".into();
        c.port = 0;
        c.use_ssl = true;
        assert_eq!(
            azure_account_url(&c).as_deref(),
            Some("https://acct.blob.core.chinacloudapi.cn")
        );
    }

    #[test]
    fn gcs_credentials_are_a_key_or_a_key_file() {
        assert_eq!(gcs_credentials(""), GcsCredentials::Default);
        assert_eq!(gcs_credentials("  "), GcsCredentials::Default);
        assert_eq!(
            gcs_credentials(" {\"type\": \"service_account\"}\n"),
            GcsCredentials::Key("{\"type\": \"service_account\"}")
        );
        assert_eq!(
            gcs_credentials("/etc/milvault/gcs-key.json"),
            GcsCredentials::KeyFile("/etc/milvault/gcs-key.json")
        );
    }

    #[test]
    fn gcs_endpoints_follow_the_address() {
        let mut c = mem_config();
        c.kind = StorageKind::GcpNative;
        c.address = "localhost".into();
        c.port = 9000;
        assert_eq!(
            c.gcs_endpoint(),
            GcsEndpoint::Google,
            "backup.yaml's default"
        );
        c.address = "Storage.GoogleAPIs.com".into();
        c.port = 443;
        assert_eq!(c.gcs_endpoint(), GcsEndpoint::Google);
        c.address = String::new();
        assert_eq!(c.gcs_endpoint(), GcsEndpoint::Google);
        c.address = "storage.us-east1.rep.googleapis.com".into();
        assert_eq!(
            c.gcs_endpoint(),
            GcsEndpoint::GoogleAt("https://storage.us-east1.rep.googleapis.com".into())
        );
        c.address = "127.0.0.1".into();
        c.port = 4443;
        assert_eq!(
            c.gcs_endpoint(),
            GcsEndpoint::Emulator("http://127.0.0.1:4443".into())
        );
        assert!(
            c.describe().ends_with("at http://127.0.0.1:4443"),
            "{}",
            c.describe()
        );
    }

    #[test]
    fn gcs_keys_are_not_sent_in_clear_text_to_another_host() {
        let mut c = mem_config();
        c.kind = StorageKind::GcpNative;
        // an S3 address left behind when the storage type became gcpnative
        c.address = "minio".into();
        c.port = 9000;
        c.gcp_credential_json = crate::config::Secret::new(
            r#"{"private_key": "", "private_key_id": "", "client_email": "", "disable_oauth": true}"#,
        );
        let err = build(&c).map(|_| ()).expect_err("refused").to_string();
        assert!(
            err.contains("http://minio:9000") && err.contains("useSSL"),
            "{err}"
        );
        // over TLS, or to this machine's own emulator, it goes
        c.use_ssl = true;
        assert!(build(&c).is_ok());
        c.use_ssl = false;
        c.address = "127.0.0.1".into();
        assert!(build(&c).is_ok());
        // no key: the emulator is sent a made-up token, never the machine's own
        c.address = "minio".into();
        c.gcp_credential_json = crate::config::Secret::default();
        assert!(build(&c).is_ok());
    }

    #[test]
    fn a_gcs_key_file_is_read_from_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.json");
        std::fs::write(
            &key,
            r#"{"private_key": "", "private_key_id": "", "client_email": "", "disable_oauth": true}"#,
        )
        .unwrap();
        let mut c = mem_config();
        c.kind = StorageKind::GcpNative;
        c.address = String::new();
        c.gcp_credential_json = crate::config::Secret::new(key.to_string_lossy().into_owned());
        assert!(build(&c).is_ok());
        c.gcp_credential_json =
            crate::config::Secret::new(dir.path().join("none.json").to_string_lossy().into_owned());
        let err = build(&c)
            .map(|_| ())
            .expect_err("a missing key file is refused")
            .to_string();
        assert!(err.contains("none.json"), "{err}");
    }
}
