//! Embedded, numbered system migrations, one folder per backend, recorded with checksums in
//! `_migrations`. A shipped migration is never edited; a checksum mismatch stops the server.

use kartoteka_model::field::{FieldDef, FieldType};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::aux::USERS_CATALOG;
use crate::conn::{Conn, Dialect};
use crate::error::StoreError;
use crate::schema::{self, data_table, CatalogRow, SectionRow};

enum Step {
    Sql {
        sqlite: &'static str,
        pg: &'static str,
    },
    Code(fn(&mut dyn Conn) -> Result<(), StoreError>),
}

struct Migration {
    version: i64,
    name: &'static str,
    step: Step,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
            pg: include_str!("../migrations/pg/0001_init.sql"),
        },
    },
    Migration {
        version: 2,
        name: "system_sections_and_users",
        step: Step::Code(system_sections_and_users),
    },
    Migration {
        version: 3,
        name: "system_catalogs",
        step: Step::Code(crate::system::seed_system_catalogs),
    },
    Migration {
        version: 4,
        name: "unique_logins",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0004_unique_logins.sql"),
            pg: include_str!("../migrations/pg/0004_unique_logins.sql"),
        },
    },
    Migration {
        version: 5,
        name: "registry_records",
        step: Step::Code(crate::registry::mirror_all),
    },
    Migration {
        version: 6,
        name: "chats",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0006_chats.sql"),
            pg: include_str!("../migrations/pg/0006_chats.sql"),
        },
    },
    Migration {
        version: 7,
        name: "uploads",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0007_uploads.sql"),
            pg: include_str!("../migrations/pg/0007_uploads.sql"),
        },
    },
    Migration {
        version: 8,
        name: "webhook_outbox",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0008_webhook_outbox.sql"),
            pg: include_str!("../migrations/pg/0008_webhook_outbox.sql"),
        },
    },
    Migration {
        // Adds the system fields later releases gave to existing system catalogs
        // (`$webhooks.$standardWebhooks`, `$failingSince`); a no-op on a new store.
        version: 9,
        name: "system_fields_webhook_delivery",
        step: Step::Code(crate::system::seed_system_catalogs),
    },
    Migration {
        // Numbered 10: 8 and 9 are taken by the webhook outbox work.
        version: 10,
        name: "field_indexes",
        step: Step::Code(field_indexes),
    },
    Migration {
        // Numbered 20: 11–19 are left to work in progress elsewhere. Adds `$views.$config`
        // (the display settings of a view); a no-op on a new store.
        version: 20,
        name: "system_fields_views",
        step: Step::Code(crate::system::seed_system_catalogs),
    },
    Migration {
        // Numbered 30: the numbers below are kept for work on other branches.
        version: 30,
        name: "file_lifecycle",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0030_file_lifecycle.sql"),
            pg: include_str!("../migrations/pg/0030_file_lifecycle.sql"),
        },
    },
    Migration {
        version: 40,
        name: "rights",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0040_rights.sql"),
            pg: include_str!("../migrations/pg/0040_rights.sql"),
        },
    },
    Migration {
        // The rules that keep what a store allowed before rules existed (see
        // `rights::seed`).
        version: 41,
        name: "rights_seed",
        step: Step::Code(crate::rights::seed),
    },
    Migration {
        version: 42,
        name: "owner_indexes",
        step: Step::Code(owner_indexes),
    },
    Migration {
        version: 50,
        name: "process_runs",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0050_process_runs.sql"),
            pg: include_str!("../migrations/pg/0050_process_runs.sql"),
        },
    },
    Migration {
        version: 51,
        name: "automation_events",
        step: Step::Sql {
            sqlite: include_str!("../migrations/sqlite/0051_automation_events.sql"),
            pg: include_str!("../migrations/pg/0051_automation_events.sql"),
        },
    },
    Migration {
        version: 52,
        name: "dropdown_owner_indexes",
        step: Step::Code(dropdown_owner_indexes),
    },
];

/// Gives the catalogs that existed before owner indexes theirs (see
/// [`crate::query::owner_indexes`]); a no-op on a new store.
///
/// Before this, `multiselect` could be switched off while records held several employees. A
/// single-valued user field whose records still do is marked `multiselect` again (its data
/// says so), so that its conditions keep finding those records.
pub fn owner_indexes(conn: &mut dyn Conn) -> Result<(), StoreError> {
    single_valued_indexes(conn, FieldType::User)
}

/// Gives the single-valued dropdowns of existing catalogs their owner indexes (a stage, a
/// status: lists of one item sorted by a date or a number); as [`owner_indexes`] did for
/// user fields, a dropdown whose records hold several items is marked `multiselect` again.
fn dropdown_owner_indexes(conn: &mut dyn Conn) -> Result<(), StoreError> {
    single_valued_indexes(conn, FieldType::Dropdown)
}

/// Marks `multiselect` the fields of type `t` whose records hold several values though the
/// field says one, then brings every catalog's owner indexes in line.
fn single_valued_indexes(conn: &mut dyn Conn, t: FieldType) -> Result<(), StoreError> {
    for mut c in schema::load_catalogs(conn)? {
        for (i, f) in c.fields.iter_mut().enumerate() {
            if f.field_type == t
                && !f.multiselect()
                && crate::query::holds_several(conn, c.db_id, f)?
            {
                f.config.insert("multiselect".into(), Value::Bool(true));
                schema::update_field(conn, c.db_id, f, i as i64 + 1)?;
            }
        }
        crate::query::sync_owner_indexes(conn, c.db_id, &c.fields)?;
    }
    Ok(())
}

/// Indexes every filterable field of the catalogs that existed before fields got indexes
/// when created (see [`crate::query::field_index`]); a no-op on a new store.
fn field_indexes(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for c in schema::load_catalogs(conn)? {
        for f in &c.fields {
            crate::query::sync_field_index(conn, c.db_id, f)?;
        }
    }
    Ok(())
}

fn checksum(m: &Migration, d: Dialect) -> String {
    let text = match (&m.step, d) {
        (Step::Sql { sqlite, .. }, Dialect::Sqlite) => *sqlite,
        (Step::Sql { pg, .. }, Dialect::Postgres) => *pg,
        (Step::Code(_), _) => m.name,
    };
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies every migration that has not run yet. Call inside a transaction.
pub fn migrate(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let d = conn.dialect();
    if d == Dialect::Postgres {
        // Several nodes may start at once; one migrates, the others wait.
        conn.query("SELECT pg_advisory_xact_lock(7305180)", &[])?;
    }
    conn.batch(&format!(
        "CREATE TABLE IF NOT EXISTS _migrations (version {} PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \"appliedAt\" TEXT NOT NULL)",
        d.bigint()
    ))?;
    let applied = conn.query(
        "SELECT version, checksum FROM _migrations ORDER BY version",
        &[],
    )?;
    for m in MIGRATIONS {
        let sum = checksum(m, d);
        if let Some(row) = applied.iter().find(|r| r.int(0).ok() == Some(m.version)) {
            if row.text(1)? != sum {
                return Err(StoreError::Migration(
                    m.version,
                    "the applied migration differs from the embedded one".into(),
                ));
            }
            continue;
        }
        tracing::info!(version = m.version, name = m.name, "applying migration");
        match (&m.step, d) {
            (Step::Sql { sqlite, .. }, Dialect::Sqlite) => conn.batch(sqlite)?,
            (Step::Sql { pg, .. }, Dialect::Postgres) => conn.batch(pg)?,
            (Step::Code(f), _) => f(conn)?,
        }
        conn.execute(
            "INSERT INTO _migrations (version, name, checksum, \"appliedAt\") VALUES (?, ?, ?, ?)",
            &[
                m.version.into(),
                m.name.into(),
                sum.into(),
                schema::now_param(),
            ],
        )?;
    }
    Ok(())
}

/// Checks, without writing, that every embedded migration has been applied to this store
/// with the same checksum: a store a read-only tool may trust to have the layout this
/// binary reads. A store that is behind (or not a Kartoteka store at all) is refused.
pub fn check_current(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let d = conn.dialect();
    let applied = conn
        .query(
            "SELECT version, checksum FROM _migrations ORDER BY version",
            &[],
        )
        .map_err(|e| StoreError::Migration(0, format!("not a migrated Kartoteka store ({e})")))?;
    for m in MIGRATIONS {
        match applied.iter().find(|r| r.int(0).ok() == Some(m.version)) {
            None => {
                return Err(StoreError::Migration(
                    m.version,
                    "not applied yet: the store is behind this binary (start the server once to migrate it)".into(),
                ))
            }
            Some(row) if row.text(1)? != checksum(m, d) => {
                return Err(StoreError::Migration(
                    m.version,
                    "the applied migration differs from the embedded one".into(),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn system_field(
    db_id: i64,
    id: &str,
    prev: &str,
    name: &str,
    column: &str,
    config: Value,
) -> FieldDef {
    FieldDef {
        db_id,
        id: id.into(),
        prev_id: prev.into(),
        duplicate: true,
        name: name.into(),
        field_type: FieldType::Text,
        hint: String::new(),
        required: false,
        api_only: false,
        filterable: true,
        history: true,
        hidden: false,
        comment: String::new(),
        config: config.as_object().cloned().unwrap_or_default(),
        visible: json!({}),
        is_system: true,
        column: column.into(),
    }
}

/// The system sections `$settings` and `$system`, and `$users` with its name and e-mail.
/// The other system catalogs come with the system layer.
fn system_sections_and_users(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for (db_id, id, name, priority) in [
        (1, "$settings", "Управление", 0),
        (2, "$system", "Система", 1),
    ] {
        schema::insert_section(
            conn,
            &SectionRow {
                db_id,
                id: id.into(),
                name: name.into(),
                icon: "settings".into(),
                priority,
                is_system: true,
                deleted: false,
            },
        )?;
    }
    let users = CatalogRow {
        db_id: USERS_CATALOG,
        id: "$users".into(),
        section_db_id: 1,
        name: "Сотрудники".into(),
        icon: "users-1".into(),
        history: true,
        priority: 0,
        is_system: true,
        deleted: false,
        next_field_id: 3,
        fields: vec![],
    };
    schema::insert_catalog(conn, &users)?;
    let mut name = system_field(1, "$name", "1", "Имя", "name", json!({"type": "text"}));
    name.required = true;
    let mut email = system_field(
        2,
        "$email",
        "2",
        "Эл. почта",
        "email",
        json!({"type": "mail"}),
    );
    email.hint = "На указанный адрес будет отправлено приглашение на вход в систему".into();
    schema::insert_field(conn, USERS_CATALOG, &name, 1)?;
    schema::insert_field(conn, USERS_CATALOG, &email, 2)?;
    conn.batch(&format!(
        "ALTER TABLE {t} ADD COLUMN \"passwordHash\" TEXT; CREATE INDEX {t}_email ON {t} (lower(email));",
        t = data_table(USERS_CATALOG)
    ))?;
    Ok(())
}
