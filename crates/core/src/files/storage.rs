//! Where the bytes of stored files live. The core writes and reads them through
//! [`FileStorage`]; the default is [`LocalStorage`], a folder (`data/files`). An object store
//! (S3 and compatible servers) is supplied by the server binary (`kartoteka-blobs`), so that
//! the core depends on no HTTP client.

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;

/// A failure of file storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// No object under that key.
    #[error("no such object")]
    NotFound,
    /// The key is not a relative path of plain names.
    #[error("bad storage key {0:?}")]
    BadKey(String),
    /// The storage could not do it (IO, network, permissions); the text says why.
    #[error("file storage: {0}")]
    Failed(String),
}

/// What storage calls return.
pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 'a>>;

/// Bytes by key. Keys are relative paths of plain names (`12/Ab3x/report.pdf`); see
/// [`check_key`]. Every call must be safe to repeat: a retried `put` overwrites, `delete` of a
/// missing object succeeds.
pub trait FileStorage: Send + Sync + 'static {
    /// Stores the whole object; a reader never sees half of it.
    fn put(&self, key: &str, bytes: Bytes) -> StorageFuture<'_, ()>;
    /// The whole object, or [`StorageError::NotFound`].
    fn get(&self, key: &str) -> StorageFuture<'_, Bytes>;
    /// Removes the object; a missing one is not an error.
    fn delete(&self, key: &str) -> StorageFuture<'_, ()>;
    /// Where the bytes go, for logs (`folder ./data/files`, `s3://bucket/prefix`).
    fn describe(&self) -> String;
}

/// Checks that a key is a relative path of plain names: no empty, `.` or `..` part, no
/// backslash, NUL or other control character, not absolute.
pub fn check_key(key: &str) -> Result<(), StorageError> {
    let bad = key.is_empty()
        || key.len() > 1024
        || key.starts_with('/')
        || key.chars().any(|c| c == '\\' || c.is_control())
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        Err(StorageError::BadKey(key.into()))
    } else {
        Ok(())
    }
}

/// Files under a folder: `{root}/{key}`, written under a temporary name and renamed.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: impl Into<PathBuf>) -> LocalStorage {
        LocalStorage { root: root.into() }
    }

    /// The folder's path for a key; no part may climb out of the folder.
    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        let rel = Path::new(key);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(StorageError::BadKey(key.into()));
        }
        Ok(self.root.join(rel))
    }
}

fn io(e: std::io::Error) -> StorageError {
    if e.kind() == std::io::ErrorKind::NotFound {
        StorageError::NotFound
    } else {
        StorageError::Failed(e.to_string())
    }
}

impl FileStorage for LocalStorage {
    fn put(&self, key: &str, bytes: Bytes) -> StorageFuture<'_, ()> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| StorageError::Failed(e.to_string()))?;
            }
            // A unique temporary name beside the target, then a rename: a reader never sees
            // half a file, and two writers of one key do not mix their bytes.
            let mut tmp = path.clone().into_os_string();
            tmp.push(format!(".{}.part", rand::random::<u64>()));
            let tmp = PathBuf::from(tmp);
            if let Err(e) = tokio::fs::write(&tmp, &bytes).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(StorageError::Failed(e.to_string()));
            }
            if let Err(e) = tokio::fs::rename(&tmp, &path).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(StorageError::Failed(format!(
                    "{e} (renaming {})",
                    tmp.display()
                )));
            }
            Ok(())
        })
    }

    fn get(&self, key: &str) -> StorageFuture<'_, Bytes> {
        let path = self.path(key);
        Box::pin(async move { Ok(Bytes::from(tokio::fs::read(path?).await.map_err(io)?)) })
    }

    fn delete(&self, key: &str) -> StorageFuture<'_, ()> {
        let path = self.path(key);
        Box::pin(async move {
            match tokio::fs::remove_file(path?).await.map_err(io) {
                Ok(()) | Err(StorageError::NotFound) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside() {
        for good in ["1/abc/file.png", "previews/5/thumbnail.jpg", "a"] {
            assert_eq!(check_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\..\\b",
            "a\0b",
            "a/",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn local_put_get_delete() {
        let dir = std::env::temp_dir().join(format!("kt-local-storage-{}", rand::random::<u64>()));
        let s = LocalStorage::new(&dir);
        s.put("1/k/a.txt", Bytes::from_static(b"hello"))
            .await
            .expect("put");
        assert_eq!(
            s.get("1/k/a.txt").await.expect("get"),
            Bytes::from_static(b"hello")
        );
        s.put("1/k/a.txt", Bytes::from_static(b"again"))
            .await
            .expect("overwrite");
        assert_eq!(
            s.get("1/k/a.txt").await.expect("get"),
            Bytes::from_static(b"again")
        );
        s.delete("1/k/a.txt").await.expect("delete");
        s.delete("1/k/a.txt").await.expect("delete twice");
        assert_eq!(s.get("1/k/a.txt").await, Err(StorageError::NotFound));
        assert!(matches!(s.get("../a").await, Err(StorageError::BadKey(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
