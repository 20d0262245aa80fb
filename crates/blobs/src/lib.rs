//! File storage in an object store: S3 and S3-compatible servers (MinIO, Ceph, moto, …)
//! through the `object_store` crate, behind the core's [`FileStorage`] trait. Kept out of the
//! core because the S3 client brings an HTTP stack (reqwest, hyper); the server binary wires
//! it in when `--files s3://bucket/prefix` is given.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kartoteka_core::files::storage::{check_key, FileStorage, StorageError, StorageFuture};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

/// A storage location that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{0:?} is not an s3://bucket[/prefix] address")]
    BadUrl(String),
    #[error("S3 settings: {0}")]
    Config(String),
    #[error("file storage {url} does not answer: {reason}")]
    Unreachable { url: String, reason: String },
}

/// `s3://bucket/some/prefix` → (`bucket`, `some/prefix`); the prefix may be empty.
pub fn parse_s3_url(url: &str) -> Result<(String, String), BlobError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| BlobError::BadUrl(url.into()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_matches('/');
    let bucket_ok = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !bucket_ok || (!prefix.is_empty() && check_key(prefix).is_err()) {
        return Err(BlobError::BadUrl(url.into()));
    }
    Ok((bucket.into(), prefix.into()))
}

/// Files kept in an object store, every key under one prefix.
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl ObjectStorage {
    /// Opens `s3://bucket/prefix` with settings from `AWS_*` variables (pass
    /// `std::env::vars()`): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT` (an S3-compatible
    /// server; path-style requests; `http://` endpoints are allowed), `AWS_ALLOW_HTTP`,
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` and the other names `object_store` knows. Names that
    /// do not start with `AWS_` are ignored.
    pub fn s3(
        url: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ObjectStorage, BlobError> {
        let (bucket, prefix) = parse_s3_url(url)?;
        let mut b = AmazonS3Builder::new();
        let mut plain_http = false;
        for (k, v) in vars {
            if !k.starts_with("AWS_") {
                continue;
            }
            let Ok(key) = k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() else {
                continue;
            };
            if matches!(
                key,
                AmazonS3ConfigKey::Endpoint | AmazonS3ConfigKey::S3Endpoint
            ) {
                plain_http |= v.starts_with("http://");
            }
            b = b.with_config(key, v);
        }
        if plain_http {
            b = b.with_allow_http(true);
        }
        let store = b
            .with_bucket_name(&bucket)
            .with_retry(RetryConfig {
                max_retries: 4,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| BlobError::Config(e.to_string()))?;
        Ok(ObjectStorage {
            store: Arc::new(store),
            prefix,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    /// Wraps any object store (tests use `object_store`'s in-memory one).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, url: &str) -> ObjectStorage {
        ObjectStorage {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            url: url.into(),
        }
    }

    /// Checks at start-up that the bucket answers (one listing request), so that a wrong
    /// endpoint, bucket or key fails the start rather than the first upload.
    pub async fn check(&self) -> Result<(), BlobError> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        self.store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| BlobError::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            })
    }

    fn path(&self, key: &str) -> Result<Path, StorageError> {
        check_key(key)?;
        Ok(if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        })
    }
}

fn failed(e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound,
        e => StorageError::Failed(e.to_string()),
    }
}

impl FileStorage for ObjectStorage {
    fn put(&self, key: &str, bytes: Bytes) -> StorageFuture<'_, ()> {
        let path = self.path(key);
        Box::pin(async move {
            self.store
                .put(&path?, PutPayload::from_bytes(bytes))
                .await
                .map(|_| ())
                .map_err(failed)
        })
    }

    fn get(&self, key: &str) -> StorageFuture<'_, Bytes> {
        let path = self.path(key);
        Box::pin(async move {
            let got = self.store.get(&path?).await.map_err(failed)?;
            got.bytes().await.map_err(failed)
        })
    }

    fn delete(&self, key: &str) -> StorageFuture<'_, ()> {
        let path = self.path(key);
        Box::pin(async move {
            match self.store.delete(&path?).await.map_err(failed) {
                Ok(()) | Err(StorageError::NotFound) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://bucket/some/prefix/").expect("url"),
            ("bucket".into(), "some/prefix".into())
        );
        assert_eq!(
            parse_s3_url("s3://bucket").expect("url"),
            ("bucket".into(), String::new())
        );
        for bad in ["bucket/x", "s3://", "s3:///x", "s3://b/../x", "file:///tmp"] {
            assert!(parse_s3_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_go_under_the_prefix() {
        let mem: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let s = ObjectStorage::new(mem, "/kt/files/", "s3://b/kt/files");
        assert_eq!(
            s.path("12/ab/x.png").expect("path").as_ref(),
            "kt/files/12/ab/x.png"
        );
        assert!(s.path("../x").is_err());
    }

    #[tokio::test]
    async fn put_get_delete() {
        let mem: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let s = ObjectStorage::new(mem.clone(), "p", "s3://b/p");
        s.put("1/k/a.txt", Bytes::from_static(b"hi"))
            .await
            .expect("put");
        assert_eq!(
            mem.get(&Path::from("p/1/k/a.txt"))
                .await
                .expect("raw")
                .bytes()
                .await
                .expect("bytes"),
            Bytes::from_static(b"hi")
        );
        assert_eq!(
            s.get("1/k/a.txt").await.expect("get"),
            Bytes::from_static(b"hi")
        );
        s.delete("1/k/a.txt").await.expect("delete");
        s.delete("1/k/a.txt").await.expect("delete again");
        assert_eq!(s.get("1/k/a.txt").await, Err(StorageError::NotFound));
        s.check().await.expect("check");
    }

    #[test]
    fn settings_from_variables() {
        let s = ObjectStorage::s3(
            "s3://bucket/prefix",
            [
                (
                    "AWS_ENDPOINT_URL".to_string(),
                    "http://127.0.0.1:9".to_string(),
                ),
                ("AWS_ACCESS_KEY_ID".to_string(), "k".to_string()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), "s".to_string()),
                ("AWS_REGION".to_string(), "eu-west-1".to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ],
        )
        .expect("open");
        assert_eq!(s.describe(), "s3://bucket/prefix");
    }
}
