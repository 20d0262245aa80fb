//! Authentication: employees are records of `$users`; passwords are argon2 hashes; sessions
//! are random tokens stored hashed. Verified credentials and live sessions are cached in
//! memory so that neither argon2 nor a database read sits on every request.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use kartoteka_model::time::now_ms;
use kartoteka_model::ErrorCode;
use kartoteka_store::aux;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::{Actor, App};

/// How long a session lives.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// How long a verified Basic credential is trusted without argon2.
const CREDENTIAL_TTL_MS: i64 = 5 * 60 * 1000;
/// Entries an auth cache holds before it drops expired ones (it is only a cache: the
/// database has every session).
const MAX_CACHED: usize = 100_000;
/// The minimum password length (DOC).
pub const MIN_PASSWORD: usize = 6;

/// In-memory caches of sessions and verified credentials.
pub(crate) struct AuthCache {
    /// A per-process key, so cached credential digests are useless outside this process.
    key: [u8; 32],
    sessions: Mutex<HashMap<String, (i64, i64)>>,
    credentials: Mutex<HashMap<[u8; 32], (i64, i64)>>,
    /// The session handed out to each employee who signs in with HTTP Basic, reused so that
    /// a Basic-only client does not open a session per request.
    basic_sessions: Mutex<HashMap<i64, (String, i64)>>,
}

impl Default for AuthCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        AuthCache {
            key,
            sessions: Mutex::new(HashMap::new()),
            credentials: Mutex::new(HashMap::new()),
            basic_sessions: Mutex::new(HashMap::new()),
        }
    }
}

impl AuthCache {
    fn credential_digest(&self, email: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(email.trim().to_lowercase().as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Forgets everything about one employee (password change, deletion).
    pub(crate) fn forget_user(&self, user_db_id: i64) {
        if let Ok(mut s) = self.sessions.lock() {
            s.retain(|_, (u, _)| *u != user_db_id);
        }
        if let Ok(mut c) = self.credentials.lock() {
            c.retain(|_, (u, _)| *u != user_db_id);
        }
        if let Ok(mut b) = self.basic_sessions.lock() {
            b.remove(&user_db_id);
        }
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn token_hash(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

fn bad_credentials() -> Error {
    Error::new(ErrorCode::Unauthorized, "wrong e-mail or password")
}

impl App {
    /// Checks an e-mail and password (HTTP Basic, login form).
    pub async fn verify_credentials(&self, email: &str, password: &str) -> Result<Actor> {
        let digest = self.auth.credential_digest(email, password);
        let now = now_ms();
        let cached = self
            .auth
            .credentials
            .lock()
            .ok()
            .and_then(|c| c.get(&digest).copied())
            .filter(|(_, exp)| *exp > now);
        if let Some((user, _)) = cached {
            return self.actor_for(user);
        }
        let email_owned = email.to_string();
        let login = self
            .store
            .read(move |c| aux::login_by_email(c, &email_owned).map_err(Error::from))
            .await?
            .ok_or_else(bad_credentials)?;
        let Some(hash) = login.password_hash else {
            return Err(bad_credentials());
        };
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| Error::internal(format!("password check failed: {e}")))?;
        if !ok {
            return Err(bad_credentials());
        }
        if let Ok(mut c) = self.auth.credentials.lock() {
            if c.len() > MAX_CACHED {
                c.retain(|_, (_, exp)| *exp > now);
            }
            c.insert(digest, (login.user_db_id, now + CREDENTIAL_TTL_MS));
        }
        self.actor_for(login.user_db_id)
    }

    /// Checks credentials and opens a session; returns the actor and the session token.
    pub async fn login(&self, email: &str, password: &str) -> Result<(Actor, String)> {
        let actor = self.verify_credentials(email, password).await?;
        let token = self.open_session(&actor).await?;
        Ok((actor, token))
    }

    /// Opens a session for an authenticated employee.
    pub async fn open_session(&self, actor: &Actor) -> Result<String> {
        let Actor::User { db_id, .. } = actor else {
            return Err(Error::unauthorized());
        };
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let hash = token_hash(&token);
        let expires = now_ms() + SESSION_TTL_MS;
        let user = *db_id;
        let h = hash.clone();
        self.store
            .write(move |c| aux::insert_session(c, &h, user, expires).map_err(Error::from))
            .await?;
        if let Ok(mut s) = self.auth.sessions.lock() {
            if s.len() > MAX_CACHED {
                let now = now_ms();
                s.retain(|_, (_, exp)| *exp > now);
            }
            s.insert(hash, (user, expires));
        }
        Ok(token)
    }

    /// The session to hand to an employee who authenticated with HTTP Basic: the one handed
    /// out before while it lives, else a new one.
    pub async fn session_for_basic(&self, actor: &Actor) -> Result<String> {
        let Actor::User { db_id, .. } = actor else {
            return Err(Error::unauthorized());
        };
        let now = now_ms();
        let reuse = self
            .auth
            .basic_sessions
            .lock()
            .ok()
            .and_then(|b| b.get(db_id).cloned())
            .filter(|(_, exp)| *exp > now + 3600 * 1000);
        if let Some((token, _)) = reuse {
            return Ok(token);
        }
        let token = self.open_session(actor).await?;
        if let Ok(mut b) = self.auth.basic_sessions.lock() {
            b.insert(*db_id, (token.clone(), now + SESSION_TTL_MS));
        }
        Ok(token)
    }

    /// Resolves a session token.
    pub async fn authenticate_session(&self, token: &str) -> Result<Actor> {
        let hash = token_hash(token);
        let now = now_ms();
        let cached = self
            .auth
            .sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&hash).copied());
        if let Some((user, exp)) = cached {
            if exp > now {
                return self.actor_for(user);
            }
        }
        let h = hash.clone();
        let found = self
            .store
            .read(move |c| aux::session_user(c, &h).map_err(Error::from))
            .await?;
        let (user, _) = found.ok_or_else(Error::unauthorized)?;
        // The exact expiry is in the database; the cache re-checks it within a day at most.
        if let Ok(mut s) = self.auth.sessions.lock() {
            if s.len() > MAX_CACHED {
                s.retain(|_, (_, exp)| *exp > now);
            }
            s.insert(hash, (user, now + 24 * 3600 * 1000));
        }
        self.actor_for(user)
    }

    /// Ends a session.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let hash = token_hash(token);
        if let Ok(mut s) = self.auth.sessions.lock() {
            s.remove(&hash);
        }
        self.store
            .write(move |c| aux::delete_session(c, &hash).map_err(Error::from))
            .await
    }

    /// The actor of an employee record, if it still exists.
    fn actor_for(&self, user_db_id: i64) -> Result<Actor> {
        Ok(Actor::User {
            db_id: user_db_id,
            id: user_db_id.to_string(),
        })
    }

    /// Creates the first administrator on an empty store. Returns the generated password when
    /// none was given, so the caller can print it once.
    pub async fn ensure_admin(
        &self,
        email: Option<&str>,
        password: Option<&str>,
    ) -> Result<Option<(String, String)>> {
        let count = self
            .store
            .read(|c| aux::count_users(c).map_err(Error::from))
            .await?;
        if count > 0 {
            return Ok(None);
        }
        let email = email.unwrap_or("admin@example.com").to_string();
        let (password, generated) = match password {
            Some(p) => (p.to_string(), false),
            None => {
                let mut raw = [0u8; 12];
                rand::thread_rng().fill_bytes(&mut raw);
                (
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
                    true,
                )
            }
        };
        if password.chars().count() < MIN_PASSWORD {
            return Err(Error::bad_request(format!(
                "the administrator password needs at least {MIN_PASSWORD} characters"
            )));
        }
        let values =
            serde_json::json!({"$name": "Administrator", "$email": email, "$password": password});
        let input = crate::records::RecordInput {
            values: values.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        };
        let admin = self.create_record(&Actor::System, "$users", input).await?;
        let user: i64 = admin
            .id
            .parse()
            .map_err(|_| Error::internal("the first administrator has no numeric id"))?;
        // The first administrator administers the system sections (spec 04 §1.4).
        self.store
            .write(move |c| {
                kartoteka_store::rights::grant_system_admin(c, user).map_err(Error::from)
            })
            .await?;
        self.rights_changed();
        tracing::info!(%email, "created the first administrator");
        Ok(generated.then_some((email, password)))
    }
}
