//! Files (spec 01 §13): the three-step upload of the Bpium API (ask for credentials, send the
//! bytes as an S3-style POST policy form, confirm), and downloads through short-lived signed
//! links. The bytes go to a [`FileStorage`]: a folder under the data folder by default, or an
//! S3-compatible object store (`--files s3://…`, wired by the server). Pictures get a
//! thumbnail and a preview ([`preview`]); uploads never attached to a record and the files of
//! deleted records are collected ([`gc`]).

pub mod gc;
pub mod preview;
pub mod storage;

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::time::now_ms;
use kartoteka_model::{ErrorCode, FieldType};
use kartoteka_store::aux::{self, FileRow};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::Sha256;

use self::preview::{ImageMeta, Stored};
use self::storage::{check_key, FileStorage, StorageError};
use crate::error::{Error, Result};
use crate::{Actor, App};

/// The largest file accepted.
pub const MAX_FILE_SIZE: i64 = 100 * 1024 * 1024;
/// How long upload credentials and download links stay valid.
const UPLOAD_TTL_MS: i64 = 3600 * 1000;
const DOWNLOAD_TTL_MS: i64 = 300 * 1000;
/// How long a shared link ([`App::share_link`]) works: a day, as long as a file no record
/// holds is kept by default (`KARTOTEKA_FILES_UNATTACHED_TTL`).
const SHARED_LINK_TTL_MS: i64 = 24 * 3600 * 1000;

/// Step 1 of an upload.
#[derive(Debug, Clone, Default)]
pub struct UploadRequest {
    pub catalog_id: String,
    pub record_id: Option<String>,
    pub field_id: String,
    pub name: String,
    pub size: i64,
    pub mime_type: String,
    pub type_storage: Option<String>,
}

/// The credentials for step 2.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadTicket {
    pub file_id: i64,
    pub key: String,
    pub policy: String,
    pub signature: String,
}

/// A file entry as the Files API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub id: i64,
    pub title: String,
    pub size: Option<i64>,
    pub mime_type: Option<String>,
    /// External links keep their address; stored files answer at `/api/v1/files/{id}`.
    pub url: String,
    /// Pictures: their size and copies (see [`metadata_json`]).
    pub metadata: Option<ImageMeta>,
}

/// A stored file, or one of the copies made of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePart {
    Original,
    Thumbnail,
    Preview,
}

impl FilePart {
    /// The path segment after `/files/{id}/`.
    pub fn parse(s: &str) -> Option<FilePart> {
        match s {
            "thumbnail" => Some(FilePart::Thumbnail),
            "preview" => Some(FilePart::Preview),
            _ => None,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            FilePart::Original => "",
            FilePart::Thumbnail => "/thumbnail",
            FilePart::Preview => "/preview",
        }
    }

    /// The text a download link signs.
    fn signed_text(self, file_id: i64, expires: i64) -> String {
        match self {
            FilePart::Original => format!("{file_id}:{expires}"),
            FilePart::Thumbnail => format!("{file_id}:thumbnail:{expires}"),
            FilePart::Preview => format!("{file_id}:preview:{expires}"),
        }
    }
}

/// The `metadata` of a file item: `{preview, thumbnail, width, height}` for pictures (the
/// first two are links like the file's own `url`, answered with a redirect to a signed link),
/// `null` for other files (spec 01 §3.15).
pub fn metadata_json(base: &str, file_id: i64, meta: Option<&ImageMeta>) -> Value {
    match meta {
        Some(m) => json!({
            "preview": format!("{base}/api/v1/files/{file_id}/preview"),
            "thumbnail": format!("{base}/api/v1/files/{file_id}/thumbnail"),
            "width": m.width,
            "height": m.height,
        }),
        None => Value::Null,
    }
}

/// Where to send a download.
#[derive(Debug, Clone, PartialEq)]
pub enum Download {
    /// An external link: redirect there.
    External(String),
    /// A stored file: redirect to this signed path.
    Signed(String),
}

/// The bytes behind a signed link.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBytes {
    pub bytes: Bytes,
    pub mime_type: String,
    pub name: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn forbidden(message: &str) -> Error {
    Error::new(ErrorCode::Forbidden, message)
}

fn gone() -> Error {
    Error::new(
        ErrorCode::NotFound,
        "the file was removed with the record that held it",
    )
}

/// A storage failure as an API error: a missing object is 404, a storage that does not answer
/// 503 (the detail is logged).
pub(crate) fn storage_error(e: StorageError) -> Error {
    match e {
        StorageError::NotFound => Error::new(ErrorCode::NotFound, "the file's bytes are gone"),
        StorageError::BadKey(_) => Error::bad_request("bad file key"),
        StorageError::Failed(m) => {
            tracing::error!(error = %m, "file storage");
            Error::new(ErrorCode::Unavailable, "file storage is not available")
        }
    }
}

fn file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        "file".into()
    } else {
        clean
    }
}

/// The storage keys of a picture's copies.
fn copy_key(file_id: i64, part: &str, extension: &str) -> String {
    format!("previews/{file_id}/{part}.{extension}")
}

/// Every storage key a file entry owns: its bytes and its picture copies.
pub(crate) fn owned_keys(row: &FileRow) -> Vec<String> {
    let mut keys: Vec<String> = row.storage_key.iter().cloned().collect();
    if let Some(m) = row.metadata.as_deref().and_then(ImageMeta::parse) {
        keys.extend(m.keys());
    }
    keys
}

/// File storage and the limit on pictures decoded at once.
pub(crate) struct Files {
    storage: std::sync::RwLock<Arc<dyn FileStorage>>,
    previews: tokio::sync::Semaphore,
}

impl Files {
    pub(crate) fn new(storage: Arc<dyn FileStorage>) -> Files {
        Files {
            storage: std::sync::RwLock::new(storage),
            previews: tokio::sync::Semaphore::new(preview::PARALLEL),
        }
    }
}

impl App {
    /// Puts the bytes of stored files somewhere else than the data folder (an object store);
    /// call once at start-up, before serving.
    pub fn set_file_storage(&self, storage: Arc<dyn FileStorage>) {
        match self.files.storage.write() {
            Ok(mut s) => *s = storage,
            Err(p) => *p.into_inner() = storage,
        }
    }

    /// Where the bytes of stored files are kept.
    pub fn file_storage(&self) -> Arc<dyn FileStorage> {
        match self.files.storage.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The signing key: created once in the store (so every node shares it), then kept here.
    async fn files_secret(&self) -> Result<&[u8]> {
        let key = self
            .files_secret
            .get_or_try_init(|| async {
                let s = self
                    .store
                    .write(|c| {
                        aux::secret(c, "files", || {
                            let mut raw = [0u8; 32];
                            rand::thread_rng().fill_bytes(&mut raw);
                            b64(&raw)
                        })
                        .map_err(Error::from)
                    })
                    .await?;
                Ok::<_, Error>(s.into_bytes())
            })
            .await?;
        Ok(key.as_slice())
    }

    async fn sign(&self, text: &str) -> Result<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.files_secret().await?)
            .map_err(|e| Error::internal(e.to_string()))?;
        mac.update(text.as_bytes());
        Ok(b64(&mac.finalize().into_bytes()))
    }

    async fn check_signature(&self, text: &str, signature: &str) -> Result<()> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.files_secret().await?)
            .map_err(|e| Error::internal(e.to_string()))?;
        mac.update(text.as_bytes());
        let given = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature.trim())
            .map_err(|_| forbidden("bad signature"))?;
        mac.verify_slice(&given)
            .map_err(|_| forbidden("bad signature"))
    }

    async fn file_row(&self, id: i64) -> Result<FileRow> {
        self.store
            .read(move |c| aux::files_by_ids(c, &[id]).map_err(Error::from))
            .await?
            .remove(&id)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("file {id} not found")))
    }

    /// Step 1: a file entry for a file field, and the credentials to send its bytes.
    pub async fn begin_upload(&self, actor: &Actor, req: UploadRequest) -> Result<UploadTicket> {
        let schema = self.schema();
        let catalog = schema.catalog(&req.catalog_id)?.clone();
        // Whoever may write some record of the catalog may upload for it; attaching the
        // file is a record write, checked there (field rights included).
        let access = self.access(actor).await?;
        if !(access.on_catalog(&catalog).includes(Privilege::Edit)
            || access.may_create(&catalog)
            || access.edits_inside(&catalog))
        {
            return Err(forbidden(
                "the edit privilege is needed on a record of this catalog",
            ));
        }
        let field = catalog
            .field(&req.field_id)
            .filter(|f| f.field_type == FieldType::File)
            .ok_or_else(|| {
                Error::field(
                    ErrorCode::InvalidValue,
                    &req.field_id,
                    "fieldId must name a file field of the catalog",
                )
            })?;
        if req.type_storage.as_deref().is_none_or(str::is_empty) {
            return Err(Error::field(
                ErrorCode::InvalidValue,
                "typeStorage",
                "typeStorage is required (\"remoteStorage\")",
            ));
        }
        if !(0..=MAX_FILE_SIZE).contains(&req.size) {
            return Err(Error::field(
                ErrorCode::PayloadTooLarge,
                "size",
                format!("files are limited to {MAX_FILE_SIZE} bytes"),
            ));
        }
        if let Some(want) = field
            .config
            .get("mimeType")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            if want != req.mime_type {
                return Err(Error::field(
                    ErrorCode::InvalidValue,
                    "mimeType",
                    format!("this field takes {want} files"),
                ));
            }
        }
        let record_db = match &req.record_id {
            Some(r) => Some(self.find_record(&catalog, r).await?),
            None => None,
        };
        let mut raw = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut raw);
        let name = file_name(&req.name);
        let key = format!("{}/{}/{}", catalog.db_id, b64(&raw), name);
        check_key(&key).map_err(|_| {
            Error::field(
                ErrorCode::InvalidValue,
                "name",
                "the file name is not usable",
            )
        })?;
        let row = FileRow {
            db_id: 0,
            catalog_db_id: Some(catalog.db_id),
            record_db_id: record_db,
            field_db_id: Some(field.db_id),
            title: name,
            size: Some(req.size),
            mime_type: Some(req.mime_type.clone()).filter(|m| !m.is_empty()),
            url: None,
            storage_key: Some(key.clone()),
            uploaded: false,
            created_by: actor.user_db_id(),
            ..FileRow::default()
        };
        let user = actor.user_db_id();
        let file_id = self
            .store
            .write(move |c| aux::insert_file(c, &row, user).map_err(Error::from))
            .await?;
        let policy = b64(json!({"fileId": file_id, "key": key, "expires": now_ms() + UPLOAD_TTL_MS, "maxSize": req.size.max(1)})
            .to_string()
            .as_bytes());
        let signature = self.sign(&policy).await?;
        Ok(UploadTicket {
            file_id,
            key,
            policy,
            signature,
        })
    }

    /// Stores bytes a scenario made (Upload file, Converter, Generate document) as a file,
    /// of the given catalog's file field when there is one, and answers its id and URL. Like
    /// any upload, a file never saved into a record is collected after the grace period.
    pub async fn store_file_bytes(
        &self,
        name: &str,
        mime_type: Option<String>,
        bytes: Bytes,
        field: Option<(&str, &str)>,
    ) -> Result<(i64, String)> {
        if bytes.len() as i64 > MAX_FILE_SIZE {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("files are limited to {MAX_FILE_SIZE} bytes"),
            ));
        }
        let (catalog_db_id, field_db_id) = match field {
            Some((c, f)) => {
                let schema = self.schema();
                let catalog = schema.catalog(c)?.clone();
                let fd = catalog
                    .field(f)
                    .filter(|fd| fd.field_type == FieldType::File)
                    .ok_or_else(|| {
                        Error::field(
                            ErrorCode::InvalidValue,
                            f,
                            "not a file field of the catalog",
                        )
                    })?;
                (Some(catalog.db_id), Some(fd.db_id))
            }
            None => (None, None),
        };
        let mut raw = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut raw);
        let title = file_name(name);
        let prefix = catalog_db_id.map_or_else(|| "made".to_string(), |c| c.to_string());
        let key = format!("{prefix}/{}/{title}", b64(&raw));
        check_key(&key).map_err(|_| {
            Error::field(
                ErrorCode::InvalidValue,
                "name",
                "the file name is not usable",
            )
        })?;
        let row = FileRow {
            db_id: 0,
            catalog_db_id,
            record_db_id: None,
            field_db_id,
            title,
            size: Some(bytes.len() as i64),
            mime_type: mime_type.filter(|m| !m.is_empty()),
            url: None,
            storage_key: Some(key.clone()),
            uploaded: false,
            created_by: None,
            ..FileRow::default()
        };
        let size = bytes.len() as i64;
        self.file_storage()
            .put(&key, bytes)
            .await
            .map_err(storage_error)?;
        let id = self
            .store
            .write(move |c| {
                let id = aux::insert_file(c, &row, None)?;
                aux::mark_uploaded(c, id, size)?;
                Ok::<i64, kartoteka_store::StoreError>(id)
            })
            .await
            .map_err(Error::from)?;
        Ok((id, format!("{}/api/v1/files/{id}", self.public_url)))
    }

    /// Step 2: the bytes, under a policy signed in step 1. Pictures get their copies before
    /// the answer, so that step 3 shows them; a picture that cannot be read gets none.
    pub async fn receive_upload(
        &self,
        key: &str,
        policy: &str,
        signature: &str,
        bytes: Bytes,
    ) -> Result<()> {
        self.check_signature(policy, signature).await?;
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(policy.trim())
            .map_err(|_| forbidden("bad policy"))?;
        let p: Value = serde_json::from_slice(&decoded).map_err(|_| forbidden("bad policy"))?;
        if p["key"].as_str() != Some(key) {
            return Err(forbidden("the key is not the one the policy was made for"));
        }
        if p["expires"].as_i64().is_none_or(|e| e < now_ms()) {
            return Err(forbidden("the upload credentials have expired"));
        }
        let max = p["maxSize"].as_i64().unwrap_or(0).min(MAX_FILE_SIZE);
        if bytes.len() as i64 > max {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("the file is larger than the {max} bytes announced"),
            ));
        }
        let id = p["fileId"]
            .as_i64()
            .ok_or_else(|| forbidden("bad policy"))?;
        let row = self.file_row(id).await?;
        if row.storage_key.as_deref() != Some(key) {
            return Err(forbidden("the key is not the one of this file"));
        }
        if row.purged {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("file {id} not found"),
            ));
        }
        let storage = self.file_storage();
        storage
            .put(key, bytes.clone())
            .await
            .map_err(storage_error)?;
        let size = bytes.len() as i64;
        self.store
            .write(move |c| aux::mark_uploaded(c, id, size).map_err(Error::from))
            .await?;
        self.describe_picture(id, bytes, &row, storage.as_ref())
            .await;
        Ok(())
    }

    /// Makes and stores the copies of a picture and records its metadata; never fails the
    /// upload. Copies of bytes sent earlier under the same credentials that are not reused
    /// are removed.
    async fn describe_picture(
        &self,
        id: i64,
        bytes: Bytes,
        row: &FileRow,
        storage: &dyn FileStorage,
    ) {
        let old = row.metadata.as_deref().and_then(ImageMeta::parse);
        let meta = if preview::sniff(&bytes).is_some() {
            match self.make_copies(id, bytes, storage).await {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(file = id, error = %e, "no thumbnail for this picture");
                    None
                }
            }
        } else {
            None
        };
        if let Some(m) = &meta {
            let text = m.to_json();
            let saved = self
                .store
                .write(move |c| aux::set_file_metadata(c, id, Some(&text)).map_err(Error::from))
                .await;
            if let Err(e) = saved {
                tracing::warn!(file = id, error = %e, "picture metadata not saved");
            }
        }
        let kept = meta.as_ref().map(ImageMeta::keys).unwrap_or_default();
        for k in old.iter().flat_map(ImageMeta::keys) {
            if !kept.contains(&k) {
                if let Err(e) = storage.delete(&k).await {
                    tracing::warn!(key = %k, error = %e, "old picture copy not removed");
                }
            }
        }
    }

    async fn make_copies(
        &self,
        id: i64,
        bytes: Bytes,
        storage: &dyn FileStorage,
    ) -> std::result::Result<ImageMeta, String> {
        let rendered = {
            let _slot = self
                .files
                .previews
                .acquire()
                .await
                .map_err(|e| e.to_string())?;
            tokio::task::spawn_blocking(move || preview::render(&bytes))
                .await
                .map_err(|e| e.to_string())??
        };
        let store = |part: &str, copy: preview::Scaled| {
            let key = copy_key(id, part, copy.extension);
            let stored = Stored {
                key: key.clone(),
                mime_type: copy.mime_type.to_string(),
            };
            async move {
                storage
                    .put(&key, Bytes::from(copy.bytes))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(stored)
            }
        };
        let thumbnail = store("thumbnail", rendered.thumbnail).await?;
        let preview = match rendered.preview {
            Some(p) => Some(store("preview", p).await?),
            None => None,
        };
        Ok(ImageMeta {
            width: rendered.width,
            height: rendered.height,
            thumbnail,
            preview,
        })
    }

    /// Step 3: the file entry, once its bytes are there; only its creator may confirm it.
    pub async fn confirm_upload(
        &self,
        actor: &Actor,
        file_id: i64,
        name: Option<String>,
    ) -> Result<FileInfo> {
        let row = self.file_row(file_id).await?;
        if row.created_by != actor.user_db_id() && *actor != Actor::System {
            return Err(forbidden("only the creator of a file confirms it"));
        }
        if row.purged {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("file {file_id} not found"),
            ));
        }
        if !row.uploaded {
            return Err(Error::new(
                ErrorCode::InvalidValue,
                "the file's bytes have not arrived yet",
            ));
        }
        if let Some(n) = name.map(|n| file_name(&n)).filter(|n| *n != row.title) {
            let t = n.clone();
            self.store
                .write(move |c| aux::rename_file(c, file_id, &t).map_err(Error::from))
                .await?;
            return Ok(file_info(FileRow { title: n, ..row }));
        }
        Ok(file_info(row))
    }

    /// Where to fetch a file or a copy of a picture: an external address, or a signed link
    /// valid for a few minutes. Files not yet saved into a record are visible to their
    /// creator only.
    pub async fn download(&self, actor: &Actor, file_id: i64, part: FilePart) -> Result<Download> {
        let row = self.file_row(file_id).await?;
        if !row.attached && row.created_by != actor.user_db_id() && *actor != Actor::System {
            return Err(forbidden(
                "this file is not attached to a record you can see",
            ));
        }
        if let Some(c) = row
            .catalog_db_id
            .and_then(|c| self.schema().catalog_by_db_id(c).cloned())
        {
            match row.record_db_id.filter(|_| row.attached) {
                // A file of a record: whoever may see the record.
                Some(r) => {
                    self.require_record(actor, &c, r, Privilege::View).await?;
                }
                None => {
                    self.require_on_catalog(actor, &c, Privilege::Available)
                        .await?;
                }
            }
        }
        if row.purged {
            return Err(gone());
        }
        if let Some(url) = row.url {
            return match part {
                FilePart::Original => Ok(Download::External(url)),
                _ => Err(Error::new(
                    ErrorCode::NotFound,
                    "no copies of external files",
                )),
            };
        }
        if !row.uploaded {
            return Err(Error::new(
                ErrorCode::NotFound,
                "the file's bytes have not arrived yet",
            ));
        }
        if part != FilePart::Original && row.metadata.is_none() {
            return Err(Error::new(
                ErrorCode::NotFound,
                "this file is not a picture",
            ));
        }
        let expires = now_ms() + DOWNLOAD_TTL_MS;
        let signature = self.sign(&part.signed_text(file_id, expires)).await?;
        Ok(Download::Signed(format!(
            "/storage/files/{file_id}{}?expires={expires}&signature={signature}",
            part.suffix()
        )))
    }

    /// A link to a stored file that works without signing in: signed, for a day. A scenario
    /// that makes a file without putting it into a record hands this out (`output_url`),
    /// since no user could open the file otherwise.
    pub async fn share_link(&self, file_id: i64) -> Result<String> {
        let expires = now_ms() + SHARED_LINK_TTL_MS;
        let signature = self
            .sign(&FilePart::Original.signed_text(file_id, expires))
            .await?;
        Ok(format!(
            "{}/storage/files/{file_id}?expires={expires}&signature={signature}",
            self.public_url
        ))
    }

    /// The id of a file of this server's a URL names: its `url` in a record
    /// (`…/api/v1/files/{id}`) or a signed link (`…/storage/files/{id}?…`), under the public
    /// URL. Scenarios read such files directly rather than through HTTP.
    pub fn own_file_id(&self, url: &str) -> Option<i64> {
        let path = url.strip_prefix(self.public_url.as_str())?;
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let id = path
            .strip_prefix("/api/v1/files/")
            .or_else(|| path.strip_prefix("/storage/files/"))?;
        id.parse().ok()
    }

    /// The bytes of a stored file (or of a copy) behind a signed link.
    pub async fn read_stored(
        &self,
        file_id: i64,
        part: FilePart,
        expires: i64,
        signature: &str,
    ) -> Result<StoredBytes> {
        self.check_signature(&part.signed_text(file_id, expires), signature)
            .await?;
        if expires < now_ms() {
            return Err(forbidden("the link has expired"));
        }
        let row = self.file_row(file_id).await?;
        if row.purged {
            return Err(gone());
        }
        let original = row
            .storage_key
            .clone()
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "not a stored file"))?;
        let meta = row.metadata.as_deref().and_then(ImageMeta::parse);
        let copy = match (part, &meta) {
            (FilePart::Original, _) => None,
            (FilePart::Thumbnail, Some(m)) => Some(("thumbnail", m.thumbnail.clone())),
            (FilePart::Preview, Some(m)) => m.preview.clone().map(|p| ("preview", p)),
            (_, None) => {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    "this file is not a picture",
                ))
            }
        };
        let (key, mime_type, name) = match copy {
            Some((what, s)) => {
                let ext = s.key.rsplit('.').next().unwrap_or("bin").to_string();
                (s.key, s.mime_type, format!("{what}.{ext}"))
            }
            None => (
                original,
                row.mime_type
                    .unwrap_or_else(|| "application/octet-stream".into()),
                row.title,
            ),
        };
        let bytes = self.file_storage().get(&key).await.map_err(storage_error)?;
        Ok(StoredBytes {
            bytes,
            mime_type,
            name,
        })
    }
}

fn file_info(row: FileRow) -> FileInfo {
    FileInfo {
        id: row.db_id,
        url: row
            .url
            .clone()
            .unwrap_or_else(|| format!("/api/v1/files/{}", row.db_id)),
        metadata: row.metadata.as_deref().and_then(ImageMeta::parse),
        title: row.title,
        size: row.size,
        mime_type: row.mime_type,
    }
}
