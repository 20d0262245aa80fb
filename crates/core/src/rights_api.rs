//! The Rights API (spec 04 §1.9): the rules of one object, level by level from its section
//! down, and the replacement of an object's direct rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use kartoteka_model::field::{source_catalogs, FieldType};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::ErrorCode;
use kartoteka_store::records::{self as rec, TitleRow};
use kartoteka_store::rights::{self as store_rights, Object, RuleRow};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::rights::{self, parse_privilege, Access, FieldRight, Rule, Subject};
use crate::schema::{Catalog, Schema};
use crate::{Actor, App};

const USERS: i64 = kartoteka_store::aux::USERS_CATALOG;

/// Which object a Rights call names (`sectionId`, or `catalogId` with an optional
/// `viewId` or `recordId`), as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct ObjectRef {
    pub section_id: Option<String>,
    pub catalog_id: Option<String>,
    pub view_id: Option<String>,
    pub record_id: Option<String>,
}

/// An object with its public ids.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectOut {
    Section {
        section_id: String,
    },
    Catalog {
        catalog_id: String,
    },
    View {
        catalog_id: String,
        view_id: String,
    },
    Record {
        catalog_id: String,
        record_id: String,
    },
}

/// A rule's subject as the API shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectOut {
    pub user_attr: String,
    pub user_attr_title: Option<String>,
    pub catalog_id: Option<String>,
    pub catalog_db_id: Option<i64>,
    pub catalog_icon: Option<String>,
    pub record_id: Option<String>,
    pub record_db_id: Option<i64>,
    pub record_title: Option<String>,
}

/// One rule as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOut {
    /// `None` for a computed (`auto`) rule.
    pub id: Option<String>,
    pub privilege: Privilege,
    /// Field rights by public field id.
    pub fields: BTreeMap<String, FieldRight>,
    pub subject: SubjectOut,
}

/// The rules of one level of the path to an object.
#[derive(Debug, Clone, PartialEq)]
pub struct RightsEntry {
    pub object: ObjectOut,
    pub rules: Vec<RuleOut>,
    /// The codes the caller may assign here (`Deny` for `deny`), highest first.
    pub privileges: Vec<Privilege>,
}

/// One rule of a `POST /rights` body, as sent.
#[derive(Debug, Clone, Default)]
pub struct RuleIn {
    pub user_attr: Option<String>,
    pub catalog_id: Option<String>,
    pub record_id: Option<String>,
    pub privilege: String,
    pub fields: Option<serde_json::Map<String, Value>>,
}

/// A rule to show: the stored rule (none for a computed `auto` one), its subject and code.
type Shown<'a> = (Option<&'a Rule>, Subject, Privilege);

/// A resolved object and the path of levels to it.
struct Resolved {
    object: Object,
    path: Vec<(Object, ObjectOut)>,
    catalog: Option<std::sync::Arc<Catalog>>,
}

/// What can be assigned at a level (spec 04 §1.3), highest first, `Deny` last.
/// `deny` is accepted on sections and catalogs too (recommended by the spec) but, as in
/// Bpium's own answers, only views and records list it among the `privileges` offered.
fn offered(object: Object) -> Vec<Privilege> {
    let mut list = assignable(object);
    if matches!(object, Object::Section(_) | Object::Catalog(_)) {
        list.retain(|p| *p != Privilege::Deny);
    }
    list
}

fn assignable(object: Object) -> Vec<Privilege> {
    use Privilege::*;
    match object {
        Object::Section(_) | Object::Catalog(_) => {
            vec![
                Admin, Access, Delete, Export, Create, Edit, View, Search, Available, Deny,
            ]
        }
        Object::View(..) => vec![Access, Delete, Export, Create, Edit, View, Deny],
        Object::Record(..) => vec![Access, Delete, Edit, View, Deny],
    }
}

fn bad(code: ErrorCode, msg: impl Into<String>) -> Error {
    Error::new(code, msg)
}

impl App {
    /// Resolves the object a Rights call names. `in_body`: a legacy section id is a 400
    /// (`section_not_found`), as for any section id sent as data.
    async fn rights_object(&self, r: &ObjectRef, in_body: bool) -> Result<Resolved> {
        let schema = self.schema();
        if let Some(c) = &r.catalog_id {
            let catalog = schema.catalog(c)?.clone();
            let section = schema
                .section_by_db_id(catalog.section_db_id)
                .ok_or_else(|| Error::internal("a catalog without its section"))?;
            let mut path = vec![
                (
                    Object::Section(section.db_id),
                    ObjectOut::Section {
                        section_id: section.id.clone(),
                    },
                ),
                (
                    Object::Catalog(catalog.db_id),
                    ObjectOut::Catalog {
                        catalog_id: catalog.id.clone(),
                    },
                ),
            ];
            if let Some(v) = &r.view_id {
                let (db_id, public) = self.rights_view_ref(&catalog, v).await?;
                path.push((
                    Object::View(catalog.db_id, db_id),
                    ObjectOut::View {
                        catalog_id: catalog.id.clone(),
                        view_id: public,
                    },
                ));
            } else if let Some(rid) = &r.record_id {
                let db_id = self.find_record(&catalog, rid).await?;
                let public = self
                    .store
                    .read({
                        let cat = catalog.db_id;
                        move |c| rec::titles(c, &[(cat, db_id)]).map_err(Error::from)
                    })
                    .await?
                    .remove(&(catalog.db_id, db_id))
                    .map(|t| t.id)
                    .unwrap_or_else(|| db_id.to_string());
                path.push((
                    Object::Record(catalog.db_id, db_id),
                    ObjectOut::Record {
                        catalog_id: catalog.id.clone(),
                        record_id: public,
                    },
                ));
            }
            let object = path.last().map(|(o, _)| *o).unwrap_or(Object::Catalog(0));
            return Ok(Resolved {
                object,
                path,
                catalog: Some(catalog),
            });
        }
        if r.view_id.is_some() || r.record_id.is_some() {
            return Err(Error::bad_request("viewId and recordId need a catalogId"));
        }
        let Some(s) = &r.section_id else {
            return Err(Error::bad_request(
                "name the object: sectionId, or catalogId with viewId or recordId",
            ));
        };
        let section = match schema.section(s) {
            Ok(s) => s.clone(),
            Err(e) if in_body => {
                return Err(Error::new(ErrorCode::SectionNotFound, e.message).with_status_400())
            }
            Err(e) => return Err(e),
        };
        Ok(Resolved {
            object: Object::Section(section.db_id),
            path: vec![(
                Object::Section(section.db_id),
                ObjectOut::Section {
                    section_id: section.id,
                },
            )],
            catalog: None,
        })
    }

    /// The caller's privilege on an object.
    async fn privilege_on(
        &self,
        access: &Access,
        schema: &Schema,
        object: Object,
        catalog: Option<&Catalog>,
    ) -> Result<Privilege> {
        Ok(match (object, catalog) {
            (Object::Section(s), _) => match schema.section_by_db_id(s) {
                Some(sec) => access.on_section(schema, sec),
                None => Privilege::Deny,
            },
            (Object::Catalog(_), Some(c)) => access.on_catalog(c),
            (Object::View(_, v), Some(c)) => access.on_rights_view(c, v),
            (Object::Record(_, r), Some(c)) => self
                .record_privileges(access, c, &[r])
                .await?
                .get(&r)
                .copied()
                .unwrap_or(Privilege::Deny),
            _ => Privilege::Deny,
        })
    }

    /// `GET /rights`: one entry per level from the section down to the object.
    pub async fn get_rights(
        &self,
        actor: &Actor,
        r: &ObjectRef,
        with_search: bool,
    ) -> Result<Vec<RightsEntry>> {
        let (resolved, access, _) = self
            .rights_target(actor, r, false, Privilege::Available)
            .await?;
        self.rights_entries(&access, &resolved, with_search).await
    }

    /// The object a Rights call names, the caller's access, and their privilege on the
    /// object, which must include `need` (403 otherwise).
    async fn rights_target(
        &self,
        actor: &Actor,
        r: &ObjectRef,
        in_body: bool,
        need: Privilege,
    ) -> Result<(Resolved, Access, Privilege)> {
        let resolved = self.rights_object(r, in_body).await?;
        let access = self.access(actor).await?;
        let have = self
            .privilege_on(
                &access,
                &self.schema(),
                resolved.object,
                resolved.catalog.as_deref(),
            )
            .await?;
        rights::require(have, need, "the object of these rights")?;
        Ok((resolved, access, have))
    }

    async fn rights_entries(
        &self,
        access: &Access,
        resolved: &Resolved,
        with_search: bool,
    ) -> Result<Vec<RightsEntry>> {
        let schema = self.schema();
        let set = access.rules();
        let mut levels: Vec<(ObjectOut, Object, Vec<Shown>)> = Vec::new();
        for (object, out) in &resolved.path {
            let mut rules: Vec<Shown> = set
                .on(*object)
                .map(|r| (Some(r), r.subject.clone(), r.privilege))
                .collect();
            if with_search {
                let direct: HashSet<Subject> = rules.iter().map(|(_, s, _)| s.clone()).collect();
                let mut auto: Vec<Subject> = Vec::new();
                for r in set.all() {
                    if r.privilege == Privilege::Deny
                        || direct.contains(&r.subject)
                        || auto.contains(&r.subject)
                        || !below(&schema, *object, r.object)
                    {
                        continue;
                    }
                    auto.push(r.subject.clone());
                }
                rules.extend(auto.into_iter().map(|s| (None, s, Privilege::Search)));
            }
            levels.push((out.clone(), *object, rules));
        }
        // Display attributes of the subjects, read once.
        let mut wanted: Vec<(i64, i64)> = Vec::new();
        for (_, _, rules) in &levels {
            for (_, s, _) in rules {
                match s {
                    Subject::User(u) => wanted.push((USERS, *u)),
                    Subject::Group {
                        catalog, record, ..
                    } => wanted.push((*catalog, *record)),
                    Subject::AllUsers => {}
                }
            }
        }
        let titles: HashMap<(i64, i64), TitleRow> = if wanted.is_empty() {
            HashMap::new()
        } else {
            self.store
                .read(move |c| rec::titles(c, &wanted).map_err(Error::from))
                .await?
        };
        let mut out = Vec::with_capacity(levels.len());
        for (object_out, object, rules) in levels {
            let catalog = match object {
                Object::Section(_) => None,
                Object::Catalog(c) | Object::View(c, _) | Object::Record(c, _) => {
                    schema.catalog_by_db_id(c)
                }
            };
            let rules = rules
                .into_iter()
                .map(|(rule, s, p)| RuleOut {
                    id: rule.map(|r| r.db_id.to_string()),
                    privilege: p,
                    fields: rule
                        .map(|r| {
                            r.fields
                                .iter()
                                .filter_map(|(f, code)| {
                                    let f = catalog?.field_by_db_id(*f)?;
                                    Some((f.id.clone(), *code))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    subject: subject_out(&schema, &s, &titles),
                })
                .collect();
            let have = self
                .privilege_on(access, &schema, object, catalog.map(|c| &**c))
                .await?;
            let privileges = if have.includes(Privilege::Access) {
                offered(object)
                    .into_iter()
                    .filter(|p| *p != Privilege::Admin || have.includes(Privilege::Admin))
                    .collect()
            } else {
                Vec::new()
            };
            out.push(RightsEntry {
                object: object_out,
                rules,
                privileges,
            });
        }
        Ok(out)
    }

    /// `POST /rights`: replaces every direct rule of the object; answers as `GET`.
    pub async fn set_rights(
        &self,
        actor: &Actor,
        r: &ObjectRef,
        rules: Vec<RuleIn>,
    ) -> Result<Vec<RightsEntry>> {
        let (resolved, access, have) = self
            .rights_target(actor, r, true, Privilege::Access)
            .await?;
        let schema = self.schema();
        let mut rows: Vec<RuleRow> = Vec::with_capacity(rules.len());
        let mut seen: HashSet<Subject> = HashSet::new();
        for (i, input) in rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            let p = parse_privilege(&input.privilege)
                .filter(|p| assignable(resolved.object).contains(p))
                .ok_or_else(|| {
                    bad(
                        ErrorCode::InvalidPrivilege,
                        format!(
                            "{at}.privilegeCode: {:?} cannot be assigned here",
                            input.privilege
                        ),
                    )
                })?;
            let subject = self.subject_in(&schema, input, &at).await?;
            if !seen.insert(subject.clone()) {
                return Err(bad(
                    ErrorCode::DuplicateSubject,
                    format!("{at}.rightSubject: this subject already has a rule here"),
                ));
            }
            let fields =
                field_rights_in(resolved.object, resolved.catalog.as_deref(), p, input, &at)?;
            let (attr, sc, sr) = subject.columns();
            rows.push(RuleRow {
                db_id: 0,
                object: resolved.object,
                subject_attr: attr,
                subject_catalog: sc,
                subject_record: sr,
                privilege: p.code().to_string(),
                fields,
            });
        }
        if !have.includes(Privilege::Admin) {
            // Holders of `access` may not create, change or delete the `admin` rules of
            // other subjects (spec 04 §1.9).
            let me = actor.user_db_id().map(Subject::User);
            let admin_rules = |list: Vec<(Subject, String)>| -> Vec<(Subject, String)> {
                let mut l: Vec<_> = list
                    .into_iter()
                    .filter(|(s, p)| p == "admin" && Some(s) != me.as_ref())
                    .collect();
                l.sort_by_key(|(s, _)| format!("{s:?}"));
                l
            };
            let before = admin_rules(
                access
                    .rules()
                    .on(resolved.object)
                    .map(|r| (r.subject.clone(), r.privilege.code().to_string()))
                    .collect(),
            );
            let after = admin_rules(
                rows.iter()
                    .filter_map(|r| {
                        let s = Subject::from_row(r)?;
                        Some((s, r.privilege.clone()))
                    })
                    .collect(),
            );
            if before != after {
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    "only an administrator of the object may add, change or remove admin rules of others",
                ));
            }
        }
        let object = resolved.object;
        self.store
            .write(move |c| store_rights::replace_rules(c, object, &rows).map_err(Error::from))
            .await?;
        self.rights_changed();
        tracing::info!(object = ?object, "Api:Request Rights:Create");
        let access = self.access(actor).await?;
        self.rights_entries(&access, &resolved, false).await
    }

    /// Resolves a rule's subject (spec 04 §1.2).
    async fn subject_in(&self, schema: &Schema, r: &RuleIn, at: &str) -> Result<Subject> {
        let invalid = |msg: String| {
            bad(
                ErrorCode::InvalidSubject,
                format!("{at}.rightSubject: {msg}"),
            )
        };
        let users = schema
            .catalog_by_db_id(USERS)
            .ok_or_else(|| Error::internal("$users is missing"))?
            .clone();
        let attr = r.user_attr.as_deref().unwrap_or("");
        match attr {
            "allUsers" => Ok(Subject::AllUsers),
            "id" => {
                let c = r.catalog_id.as_deref().unwrap_or("$users");
                if schema.find_catalog(c).map(|c| c.db_id) != Some(USERS) {
                    return Err(invalid(format!(
                        "an employee subject names $users, not {c:?}"
                    )));
                }
                let rid = r
                    .record_id
                    .as_deref()
                    .ok_or_else(|| invalid("recordId is missing".into()))?;
                let db = self
                    .find_record(&users, rid)
                    .await
                    .map_err(|_| invalid(format!("no employee {rid:?}")))?;
                Ok(Subject::User(db))
            }
            "" => Err(invalid("userAttr is missing".into())),
            f => {
                // Field ids are text only here (spec 02 §1.6): `$users` system fields by
                // their `$` id, custom fields by their own number.
                let field = users
                    .field_by_id(f)
                    .filter(|x| x.field_type == FieldType::Object)
                    .ok_or_else(|| invalid(format!("{f:?} is not a link field of $users")))?;
                let c = r
                    .catalog_id
                    .as_deref()
                    .ok_or_else(|| invalid("catalogId is missing".into()))?;
                let target = schema
                    .find_catalog(c)
                    .filter(|t| {
                        source_catalogs(&field.config)
                            .iter()
                            .any(|s| schema.find_catalog(s).map(|x| x.db_id) == Some(t.db_id))
                    })
                    .ok_or_else(|| invalid(format!("{c:?} is not a catalog of the field {f:?}")))?
                    .clone();
                let rid = r
                    .record_id
                    .as_deref()
                    .ok_or_else(|| invalid("recordId is missing".into()))?;
                let db = self
                    .find_record(&target, rid)
                    .await
                    .map_err(|_| invalid(format!("no record {rid:?} in {c:?}")))?;
                Ok(Subject::Group {
                    field: field.db_id,
                    catalog: target.db_id,
                    record: db,
                })
            }
        }
    }
}

/// The field rights of a rule as stored (`{"<fieldDbId>": code}`), checked (spec 04 §1.8).
fn field_rights_in(
    object: Object,
    catalog: Option<&Catalog>,
    p: Privilege,
    r: &RuleIn,
    at: &str,
) -> Result<Option<String>> {
    let Some(map) = r.fields.as_ref().filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    let invalid = |msg: String| bad(ErrorCode::InvalidFieldRights, format!("{at}.fields: {msg}"));
    if matches!(p, Privilege::Available | Privilege::Deny) {
        return Err(invalid(format!(
            "a {} rule carries no field rights",
            p.code()
        )));
    }
    let (Some(catalog), false) = (catalog, matches!(object, Object::Section(_))) else {
        return Err(invalid(
            "field rights belong to catalog, view and record rules".into(),
        ));
    };
    let mut out = BTreeMap::new();
    for (f, code) in map {
        let field = catalog
            .field_by_id(f)
            .ok_or_else(|| invalid(format!("unknown field {f:?}")))?;
        let right = code
            .as_str()
            .and_then(FieldRight::parse)
            .ok_or_else(|| invalid(format!("{f}: {code} is not edit, view or hide")))?;
        out.insert(field.db_id.to_string(), right.code());
    }
    Ok(Some(serde_json::to_string(&out).unwrap_or_default()))
}

/// True when `inner` lies strictly below `outer` (a catalog of a section, a view or a
/// record of a catalog or of a catalog of a section).
fn below(schema: &Schema, outer: Object, inner: Object) -> bool {
    let catalog_of = |o: Object| match o {
        Object::Catalog(c) | Object::View(c, _) | Object::Record(c, _) => Some(c),
        Object::Section(_) => None,
    };
    match outer {
        Object::Section(s) => catalog_of(inner)
            .and_then(|c| schema.catalog_by_db_id(c))
            .is_some_and(|c| c.section_db_id == s),
        Object::Catalog(c) => {
            matches!(inner, Object::View(x, _) | Object::Record(x, _) if x == c)
        }
        _ => false,
    }
}

fn subject_out(schema: &Schema, s: &Subject, titles: &HashMap<(i64, i64), TitleRow>) -> SubjectOut {
    match s {
        Subject::AllUsers => SubjectOut {
            user_attr: "allUsers".into(),
            ..SubjectOut::default()
        },
        Subject::User(u) => {
            let users = schema.catalog_by_db_id(USERS);
            let t = titles.get(&(USERS, *u));
            SubjectOut {
                user_attr: "id".into(),
                user_attr_title: None,
                catalog_id: Some("$users".into()),
                catalog_db_id: Some(USERS),
                catalog_icon: users.map(|c| c.icon.clone()),
                record_id: Some(t.map(|t| t.id.clone()).unwrap_or_else(|| u.to_string())),
                record_db_id: Some(*u),
                record_title: t.map(|t| t.title.clone()),
            }
        }
        Subject::Group {
            field,
            catalog,
            record,
        } => {
            let users = schema.catalog_by_db_id(USERS);
            let f = users.and_then(|u| u.field_by_db_id(*field));
            let c = schema.catalog_by_db_id(*catalog);
            let t = titles.get(&(*catalog, *record));
            SubjectOut {
                user_attr: f.map(|f| f.id.clone()).unwrap_or_else(|| field.to_string()),
                user_attr_title: f.map(|f| f.name.clone()),
                catalog_id: Some(
                    c.map(|c| c.id.clone())
                        .unwrap_or_else(|| catalog.to_string()),
                ),
                catalog_db_id: Some(*catalog),
                catalog_icon: c.map(|c| c.icon.clone()),
                record_id: Some(
                    t.map(|t| t.id.clone())
                        .unwrap_or_else(|| record.to_string()),
                ),
                record_db_id: Some(*record),
                record_title: t.map(|t| t.title.clone()),
            }
        }
    }
}
