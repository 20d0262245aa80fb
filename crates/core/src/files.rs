//! Files (spec 01 §13): the three-step upload of the Bpium API (ask for credentials, send the
//! bytes as an S3-style POST policy form, confirm), and downloads through short-lived signed
//! links. Bytes are kept under the data folder; an S3 store comes with the scale-out work.

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use hmac::{Hmac, Mac};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::time::now_ms;
use kartoteka_model::{ErrorCode, FieldType};
use kartoteka_store::aux::{self, FileRow};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::rights;
use crate::{Actor, App};

/// The largest file accepted.
pub const MAX_FILE_SIZE: i64 = 100 * 1024 * 1024;
/// How long upload credentials and download links stay valid.
const UPLOAD_TTL_MS: i64 = 3600 * 1000;
const DOWNLOAD_TTL_MS: i64 = 300 * 1000;

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
}

/// Where to send a download.
#[derive(Debug, Clone, PartialEq)]
pub enum Download {
    /// An external link: redirect there.
    External(String),
    /// A stored file: redirect to this signed path.
    Signed(String),
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn forbidden(message: &str) -> Error {
    Error::new(ErrorCode::Forbidden, message)
}

/// A storage key is `{catalogDbId}/{random}/{name}`; no part may climb out of the folder.
fn safe_path(root: &Path, key: &str) -> Result<PathBuf> {
    let rel = Path::new(key);
    if key.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(Error::bad_request("bad file key"));
    }
    Ok(root.join(rel))
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

impl App {
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
        rights::require(
            rights::on_catalog(actor, &catalog),
            Privilege::Edit,
            &format!("catalog {:?}", catalog.id),
        )?;
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

    /// Step 2: the bytes, under a policy signed in step 1.
    pub async fn receive_upload(
        &self,
        key: &str,
        policy: &str,
        signature: &str,
        bytes: &[u8],
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
        let path = safe_path(&self.files_dir, key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::internal(format!("file storage: {e}")))?;
        }
        // Written under a temporary name and renamed: a reader never sees half a file.
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|e| Error::internal(format!("file storage: {e}")))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| Error::internal(format!("file storage: {e}")))?;
        let size = bytes.len() as i64;
        self.store
            .write(move |c| aux::mark_uploaded(c, id, size).map_err(Error::from))
            .await
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
            return self.file_info(FileRow { title: n, ..row });
        }
        self.file_info(row)
    }

    fn file_info(&self, row: FileRow) -> Result<FileInfo> {
        Ok(FileInfo {
            id: row.db_id,
            url: row
                .url
                .clone()
                .unwrap_or_else(|| format!("/api/v1/files/{}", row.db_id)),
            title: row.title,
            size: row.size,
            mime_type: row.mime_type,
        })
    }

    /// Where to fetch a file: its external address, or a signed link valid for a few minutes.
    /// Unattached files are visible to their creator only.
    pub async fn download(&self, actor: &Actor, file_id: i64) -> Result<Download> {
        let row = self.file_row(file_id).await?;
        if !row.attached
            && row.created_by != actor.user_db_id()
            && *actor != Actor::System
        {
            return Err(forbidden(
                "this file is not attached to a record you can see",
            ));
        }
        if let Some(c) = row
            .catalog_db_id
            .and_then(|c| self.schema().catalog_by_db_id(c).cloned())
        {
            rights::require(
                rights::on_catalog(actor, &c),
                Privilege::View,
                &format!("catalog {:?}", c.id),
            )?;
        }
        if let Some(url) = row.url {
            return Ok(Download::External(url));
        }
        if !row.uploaded {
            return Err(Error::new(
                ErrorCode::NotFound,
                "the file's bytes have not arrived yet",
            ));
        }
        let expires = now_ms() + DOWNLOAD_TTL_MS;
        let signature = self.sign(&format!("{file_id}:{expires}")).await?;
        Ok(Download::Signed(format!(
            "/storage/files/{file_id}?expires={expires}&signature={signature}"
        )))
    }

    /// The bytes of a stored file behind a signed link: `(bytes, mime type, name)`.
    pub async fn read_stored(
        &self,
        file_id: i64,
        expires: i64,
        signature: &str,
    ) -> Result<(Vec<u8>, String, String)> {
        self.check_signature(&format!("{file_id}:{expires}"), signature)
            .await?;
        if expires < now_ms() {
            return Err(forbidden("the link has expired"));
        }
        let row = self.file_row(file_id).await?;
        let key = row
            .storage_key
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "not a stored file"))?;
        let bytes = tokio::fs::read(safe_path(&self.files_dir, &key)?)
            .await
            .map_err(|_| Error::new(ErrorCode::NotFound, "the file's bytes are gone"))?;
        Ok((
            bytes,
            row.mime_type
                .unwrap_or_else(|| "application/octet-stream".into()),
            row.title,
        ))
    }
}
