//! The rights policy (spec 04 §1): rules on sections, catalogs, rights views and records for
//! subjects (every employee, one employee, right groups), resolved per caller as §1.6 says.
//!
//! Every rule lives in one in-memory [`RuleSet`], loaded from the store on first use and
//! dropped whenever a rule, a rights view or the structure changes. A caller's subjects (their
//! right groups, read from the links of their `$users` record) are cached per employee and
//! dropped whenever `$users` is written, so a role change applies on the next request. An
//! [`Access`] pairs the two for one request; every privilege question of the core is a method
//! of it, and the records a caller may see are a filter ANDed into the list's SQL
//! ([`App::visible_filter`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kartoteka_filter::{Cond, Filter, LinkCond};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::ErrorCode;
use kartoteka_store::query as rq;
use kartoteka_store::query::RecordQuery;
use kartoteka_store::records::Selector;
use kartoteka_store::rights::{self as store_rights, Object, RuleRow};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::query::{filter_error, CatalogScope};
use crate::schema::{Catalog, Schema, Section};
use crate::{Actor, App};

/// The `dbId` of `$users`.
const USERS: i64 = kartoteka_store::aux::USERS_CATALOG;

/// Who a rule is for (spec 04 §1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    AllUsers,
    /// One employee: their `$users` `dbId`.
    User(i64),
    /// A right group: every employee whose `$users` link field `field` links the record.
    Group {
        field: i64,
        catalog: i64,
        record: i64,
    },
}

impl Subject {
    pub(crate) fn from_row(r: &RuleRow) -> Option<Subject> {
        match r.subject_attr.as_str() {
            "allUsers" => Some(Subject::AllUsers),
            "id" => r.subject_record.map(Subject::User),
            attr => Some(Subject::Group {
                field: attr.parse().ok()?,
                catalog: r.subject_catalog?,
                record: r.subject_record?,
            }),
        }
    }

    /// The stored columns: (subjectAttr, subjectCatalogDbId, subjectRecordDbId).
    pub fn columns(&self) -> (String, Option<i64>, Option<i64>) {
        match self {
            Subject::AllUsers => ("allUsers".into(), None, None),
            Subject::User(u) => ("id".into(), Some(USERS), Some(*u)),
            Subject::Group {
                field,
                catalog,
                record,
            } => (field.to_string(), Some(*catalog), Some(*record)),
        }
    }
}

/// A per-field right (spec 04 §1.8), lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldRight {
    Hide,
    View,
    Edit,
}

impl FieldRight {
    pub fn code(self) -> &'static str {
        match self {
            FieldRight::Hide => "hide",
            FieldRight::View => "view",
            FieldRight::Edit => "edit",
        }
    }

    pub fn parse(code: &str) -> Option<FieldRight> {
        Some(match code {
            "hide" => FieldRight::Hide,
            "view" => FieldRight::View,
            "edit" => FieldRight::Edit,
            _ => return None,
        })
    }
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub db_id: i64,
    pub object: Object,
    pub subject: Subject,
    /// The rule's privilege; `Deny` for a denial.
    pub privilege: Privilege,
    /// Field rights by field `dbId`.
    pub fields: BTreeMap<i64, FieldRight>,
}

/// The code of a privilege as rules store it.
pub fn parse_privilege(code: &str) -> Option<Privilege> {
    if code == "deny" {
        return Some(Privilege::Deny);
    }
    Privilege::ASSIGNABLE.into_iter().find(|p| p.code() == code)
}

/// A rights view that carries rules: its conditions as the Views API stores them.
#[derive(Debug, Clone)]
pub struct RightsView {
    pub db_id: i64,
    pub catalog: i64,
    /// `[{fieldId, value}]`, field ids public.
    pub conditions: Value,
}

/// Every rule, indexed by object.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    by_object: HashMap<Object, Vec<usize>>,
    /// Catalog → the rules on its views and records.
    inner: HashMap<i64, Vec<usize>>,
    views: HashMap<i64, RightsView>,
}

impl RuleSet {
    fn new(rows: Vec<RuleRow>, views: Vec<RightsView>) -> RuleSet {
        let mut set = RuleSet {
            views: views.into_iter().map(|v| (v.db_id, v)).collect(),
            ..RuleSet::default()
        };
        for r in rows {
            let (Some(subject), Some(privilege)) =
                (Subject::from_row(&r), parse_privilege(&r.privilege))
            else {
                continue;
            };
            let fields = r
                .fields
                .as_deref()
                .and_then(|f| serde_json::from_str::<BTreeMap<String, String>>(f).ok())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, FieldRight::parse(&v)?)))
                .collect();
            let i = set.rules.len();
            set.by_object.entry(r.object).or_default().push(i);
            if let Object::View(c, _) | Object::Record(c, _) = r.object {
                set.inner.entry(c).or_default().push(i);
            }
            set.rules.push(Rule {
                db_id: r.db_id,
                object: r.object,
                subject,
                privilege,
                fields,
            });
        }
        set
    }

    /// The rules on one object.
    pub fn on(&self, object: Object) -> impl Iterator<Item = &Rule> {
        self.by_object
            .get(&object)
            .into_iter()
            .flatten()
            .map(|&i| &self.rules[i])
    }

    /// Every rule.
    pub fn all(&self) -> &[Rule] {
        &self.rules
    }

    /// The rights view behind a view rule, if it still exists.
    pub fn view(&self, db_id: i64) -> Option<&RightsView> {
        self.views.get(&db_id)
    }
}

/// The rules and the subjects of callers, cached; see the module comment.
#[derive(Default)]
pub(crate) struct RightsCache {
    rules: RwLock<Option<Arc<RuleSet>>>,
    subjects: RwLock<HashMap<i64, Arc<Vec<Subject>>>>,
    /// Bumped by every invalidation, so a load that read older state is not kept.
    generation: AtomicU64,
    /// How often a request found its rules and subjects in the cache, and how often not.
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

impl RightsCache {
    /// Drops the rules (and the subjects, which depend on the `$users` structure).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut r) = self.rules.write() {
            *r = None;
        }
        if let Ok(mut s) = self.subjects.write() {
            s.clear();
        }
    }

    /// Drops the subjects of every employee (after a write to `$users`).
    pub(crate) fn invalidate_subjects(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = self.subjects.write() {
            s.clear();
        }
    }
}

/// What one caller may do: the rules and the caller's subjects.
#[derive(Clone)]
pub struct Access {
    set: Arc<RuleSet>,
    /// `None` for the system actor, which may do everything.
    subjects: Option<Arc<Vec<Subject>>>,
}

/// Highest of two optional privileges.
fn max_opt(a: Option<Privilege>, b: Option<Privilege>) -> Option<Privilege> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// What one subject's rules at one level say: `None` when it has none there, `Some(Deny)`
/// when one of them denies, else the highest.
fn level(rules: &mut dyn Iterator<Item = &Rule>) -> Option<Privilege> {
    let mut out: Option<Privilege> = None;
    for r in rules {
        if r.privilege == Privilege::Deny {
            return Some(Privilege::Deny);
        }
        out = max_opt(out, Some(r.privilege));
    }
    out
}

/// A privilege that grants something (a `Deny` grants nothing).
fn allowing(p: Option<Privilege>) -> Option<Privilege> {
    p.filter(|p| *p != Privilege::Deny)
}

/// How one subject reaches the records of a catalog (spec 04 §1.6, per subject).
#[derive(Debug, Default, Clone)]
struct SubjectScope {
    /// What the catalog or the section gives (deeper wins), if it allows anything.
    base: Option<Privilege>,
    /// Records with a rule of this subject: record → its privilege (`Deny` for a denial).
    records: BTreeMap<i64, Privilege>,
    /// Rights views with a rule of this subject: view → its privilege (`Deny` for a denial).
    views: BTreeMap<i64, Privilege>,
    /// Field rights this subject's rules set, per level: catalog, each view, each record.
    catalog_fields: BTreeMap<i64, FieldRight>,
    view_fields: BTreeMap<i64, BTreeMap<i64, FieldRight>>,
    record_fields: BTreeMap<i64, BTreeMap<i64, FieldRight>>,
}

impl SubjectScope {
    /// What this subject's rules say of a record (§1.6 `governing`): `None` when nothing
    /// governs, with the view rules that apply when the view level governs.
    fn governing(&self, record: Option<i64>, matching: &HashSet<i64>) -> Option<Privilege> {
        if let Some(p) = record.and_then(|r| self.records.get(&r)) {
            return Some(*p);
        }
        let mut at_view: Option<Privilege> = None;
        for (v, p) in &self.views {
            if matching.contains(v) {
                at_view = Some(match at_view {
                    Some(Privilege::Deny) => Privilege::Deny,
                    _ if *p == Privilege::Deny => Privilege::Deny,
                    Some(q) => q.max(*p),
                    None => *p,
                });
            }
        }
        at_view.or(self.base)
    }

    /// This subject's code for every field (§1.8 `fc`): the deepest level that sets a
    /// field decides it, else the default of the governing privilege. `None` when the
    /// subject grants nothing here.
    fn field_codes(
        &self,
        record: Option<i64>,
        matching: &HashSet<i64>,
    ) -> Option<(FieldRight, BTreeMap<i64, FieldRight>)> {
        let governing = allowing(self.governing(record, matching))?;
        let default = if governing.includes(Privilege::Edit) {
            FieldRight::Edit
        } else {
            FieldRight::View
        };
        let mut out: BTreeMap<i64, FieldRight> = self.catalog_fields.clone();
        let mut at_view: BTreeMap<i64, FieldRight> = BTreeMap::new();
        for (v, f) in &self.view_fields {
            if matching.contains(v) {
                for (k, c) in f {
                    let e = at_view.entry(*k).or_insert(*c);
                    *e = (*e).max(*c);
                }
            }
        }
        out.extend(at_view);
        if let Some(f) = record.and_then(|r| self.record_fields.get(&r)) {
            out.extend(f.iter().map(|(k, c)| (*k, *c)));
        }
        Some((default, out))
    }
}

/// A caller's code for each field of a record (spec 04 §1.8).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCodes {
    /// The code of every field not in `by_field`.
    pub fallback: FieldRight,
    pub by_field: BTreeMap<i64, FieldRight>,
}

impl FieldCodes {
    /// Every field editable (the system actor, or no rights policy in the way).
    pub fn all_edit() -> FieldCodes {
        FieldCodes {
            fallback: FieldRight::Edit,
            by_field: BTreeMap::new(),
        }
    }

    pub fn code(&self, field: i64) -> FieldRight {
        self.by_field.get(&field).copied().unwrap_or(self.fallback)
    }

    /// True when some field is hidden.
    pub fn hides_any(&self) -> bool {
        self.fallback == FieldRight::Hide || self.by_field.values().any(|c| *c == FieldRight::Hide)
    }
}

/// The records of one catalog a caller reaches, before it is turned into a filter.
#[derive(Debug, Default, Clone)]
pub struct RecordScope {
    /// `None` for the system actor.
    subjects: Option<Vec<SubjectScope>>,
}

impl RecordScope {
    /// True when every record has the same privilege (no view or record rule applies), and
    /// that privilege.
    pub fn uniform(&self) -> Option<Privilege> {
        let Some(subjects) = &self.subjects else {
            return Some(Privilege::Access);
        };
        if subjects
            .iter()
            .any(|s| !s.records.is_empty() || !s.views.is_empty())
        {
            // Rules on views or records decide nothing when another subject already gives
            // everything on every record and field (an administrator who is also in a group
            // with a "my records" view) and none of them denies.
            let denies = subjects.iter().any(|s| {
                s.records
                    .values()
                    .chain(s.views.values())
                    .any(|p| *p == Privilege::Deny)
            });
            let gives_all = subjects.iter().any(|s| {
                s.base.is_some_and(|b| b.includes(Privilege::Access))
                    && s.records.is_empty()
                    && s.views.is_empty()
                    && s.view_fields.is_empty()
                    && s.record_fields.is_empty()
                    && s.catalog_fields.values().all(|c| *c == FieldRight::Edit)
            });
            return (gives_all && !denies).then_some(Privilege::Access);
        }
        Some(
            subjects
                .iter()
                .filter_map(|s| s.base)
                .max()
                .map(|p| p.min(Privilege::Access))
                .unwrap_or(Privilege::Deny),
        )
    }

    /// The rights views whose membership decides something.
    pub fn views(&self) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .subjects
            .iter()
            .flatten()
            .flat_map(|s| s.views.keys().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A record's privilege (§1.6 `effective`), given the rights views it matches; at most
    /// `access`, `Deny` for none.
    pub fn record(&self, record: i64, matching: &HashSet<i64>) -> Privilege {
        let Some(subjects) = &self.subjects else {
            return Privilege::Access;
        };
        let mut best: Option<Privilege> = None;
        for s in subjects {
            match s.governing(Some(record), matching) {
                Some(Privilege::Deny) => return Privilege::Deny,
                p => best = max_opt(best, p),
            }
        }
        best.map(|p| p.min(Privilege::Access))
            .unwrap_or(Privilege::Deny)
    }

    /// The caller's field codes on a record (or, with `record` `None`, on a record that
    /// matches exactly the views in `matching`: the catalog level when it is empty).
    pub fn field_codes(&self, record: Option<i64>, matching: &HashSet<i64>) -> FieldCodes {
        let Some(subjects) = &self.subjects else {
            return FieldCodes::all_edit();
        };
        let per: Vec<(FieldRight, BTreeMap<i64, FieldRight>)> = subjects
            .iter()
            .filter_map(|s| s.field_codes(record, matching))
            .collect();
        if per.is_empty() {
            // No rule governs here: no field right either (a record out of reach is refused
            // by its privilege, not by its fields).
            return FieldCodes {
                fallback: FieldRight::View,
                by_field: BTreeMap::new(),
            };
        }
        let fallback = per
            .iter()
            .map(|(d, _)| *d)
            .max()
            .unwrap_or(FieldRight::Hide);
        let mut by_field = BTreeMap::new();
        for f in per.iter().flat_map(|(_, m)| m.keys()) {
            let code = per
                .iter()
                .map(|(d, m)| m.get(f).copied().unwrap_or(*d))
                .max()
                .unwrap_or(FieldRight::Hide);
            if code != fallback {
                by_field.insert(*f, code);
            }
        }
        FieldCodes { fallback, by_field }
    }

    /// The rights views that give the caller's subjects something (not `deny`).
    pub fn allowing_views(&self) -> HashSet<i64> {
        self.subjects
            .iter()
            .flatten()
            .flat_map(|s| s.views.iter())
            .filter(|(_, p)| **p != Privilege::Deny)
            .map(|(v, _)| *v)
            .collect()
    }

    /// The rights views of the caller's subjects that let them create records.
    pub fn creating_views(&self) -> HashSet<i64> {
        self.subjects
            .iter()
            .flatten()
            .flat_map(|s| s.views.iter())
            .filter(|(_, p)| p.includes(Privilege::Create))
            .map(|(v, _)| *v)
            .collect()
    }

    /// The filter of the records whose privilege is at least `view` (§1.6 visibility), with
    /// `view_filter` giving each rights view's filter for this caller.
    ///
    /// `listed`: the rights view a list names with `viewId`. When the caller holds an
    /// allowing rule on it, its records are listed whatever the catalog and section rules
    /// say, minus denied views and records (§1.6, record lists case 4); the view's own
    /// filter is applied by the list.
    pub fn visible(&self, view_filter: &dyn Fn(i64) -> Filter, listed: Option<i64>) -> Filter {
        let Some(subjects) = &self.subjects else {
            return Filter::All;
        };
        let through_listed = listed.is_some_and(|v| {
            subjects
                .iter()
                .any(|s| s.views.get(&v).is_some_and(|p| *p != Privilege::Deny))
        });
        let mut grant = Vec::new();
        let mut veto = Vec::new();
        for s in subjects {
            let own: Vec<i64> = s.records.keys().copied().collect();
            let not_own = if own.is_empty() {
                Filter::All
            } else {
                Filter::negate(Filter::Records(own))
            };
            let allowed: Vec<i64> = s
                .records
                .iter()
                .filter(|(_, p)| **p != Privilege::Deny)
                .map(|(r, _)| *r)
                .collect();
            let denied: Vec<i64> = s
                .records
                .iter()
                .filter(|(_, p)| **p == Privilege::Deny)
                .map(|(r, _)| *r)
                .collect();
            if !allowed.is_empty() {
                grant.push(Filter::Records(allowed));
            }
            if !denied.is_empty() {
                veto.push(Filter::Records(denied));
            }
            let deny_views: Vec<Filter> = s
                .views
                .iter()
                .filter(|(_, p)| **p == Privilege::Deny)
                .map(|(v, _)| view_filter(*v))
                .collect();
            if !deny_views.is_empty() {
                veto.push(Filter::and(vec![not_own.clone(), Filter::any(deny_views)]));
            }
            // Records and views grant at least `view` whenever they allow at all (their
            // assignable privileges start there).
            let through = if s.base.is_some_and(|p| p.includes(Privilege::View)) {
                Filter::All
            } else {
                Filter::any(
                    s.views
                        .iter()
                        .filter(|(_, p)| **p != Privilege::Deny)
                        .map(|(v, _)| view_filter(*v))
                        .collect(),
                )
            };
            grant.push(Filter::and(vec![not_own, through]));
        }
        let allowed = if through_listed {
            Filter::All
        } else {
            Filter::any(grant)
        };
        Filter::and(vec![allowed, Filter::negate(Filter::any(veto))])
    }
}

impl Access {
    /// The system actor's access: everything.
    pub fn system(set: Arc<RuleSet>) -> Access {
        Access {
            set,
            subjects: None,
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.set
    }

    /// True for the system actor.
    pub fn is_system(&self) -> bool {
        self.subjects.is_none()
    }

    /// True when the rule is for one of the caller's subjects.
    pub fn is_mine(&self, s: &Subject) -> bool {
        match &self.subjects {
            None => true,
            Some(list) => list.contains(s),
        }
    }

    /// A view's conditions (`[{fieldId, value}]`, field ids text only) as the caller's
    /// filter, with `CURRENT_USER.<fieldId>` link values resolved.
    pub(crate) fn view_conditions(
        &self,
        schema: &Schema,
        catalog: &Catalog,
        label: &str,
        conditions: Value,
        tz_offset_min: i32,
    ) -> Result<Filter> {
        let parsed = kartoteka_filter::parse(
            &kartoteka_filter::Input::json(label, conditions),
            &CatalogScope {
                schema,
                catalog,
                text_only: true,
            },
            &kartoteka_filter::Options { tz_offset_min },
        )
        .map_err(filter_error)?;
        Ok(self.resolve_relative(schema, parsed))
    }

    /// `f` with `CURRENT_USER.<fieldId>` link values replaced by the caller's own links.
    fn resolve_relative(&self, schema: &Schema, f: Filter) -> Filter {
        relative(
            f,
            schema.catalog_by_db_id(USERS).map(|c| &**c),
            self.subjects(),
        )
    }

    /// The caller's `$users` `dbId` (`None` for the system actor).
    pub fn user(&self) -> Option<i64> {
        self.subjects().iter().find_map(|s| match s {
            Subject::User(u) => Some(*u),
            _ => None,
        })
    }

    fn subjects(&self) -> &[Subject] {
        self.subjects.as_deref().map(Vec::as_slice).unwrap_or(&[])
    }

    /// One subject's rules at one object, as [`level`] reads them.
    fn at(&self, s: &Subject, object: Object) -> Option<Privilege> {
        level(&mut self.set.on(object).filter(|r| r.subject == *s))
    }

    /// True when the caller holds an allowing rule on a view or record of `catalog`.
    fn allowed_inside(&self, catalog: i64) -> bool {
        self.my_inner_rules(catalog)
            .any(|r| r.privilege != Privilege::Deny)
    }

    /// The caller's privilege on a section (§1.6 container codes); `Deny` for nothing.
    pub fn on_section(&self, schema: &Schema, section: &Section) -> Privilege {
        if self.is_system() {
            return Privilege::Admin;
        }
        let mut best = None;
        for s in self.subjects() {
            best = max_opt(best, allowing(self.at(s, Object::Section(section.db_id))));
        }
        let p = best.unwrap_or(Privilege::Deny);
        if p < Privilege::Search
            && schema
                .catalogs
                .iter()
                .filter(|c| c.section_db_id == section.db_id && !c.deleted)
                .any(|c| {
                    self.allowed_inside(c.db_id)
                        || self
                            .subjects()
                            .iter()
                            .any(|s| allowing(self.at(s, Object::Catalog(c.db_id))).is_some())
                })
        {
            return Privilege::Search;
        }
        p
    }

    /// What a subject's catalog or section rules give (the deeper level wins).
    fn catalog_level(&self, s: &Subject, catalog: &Catalog) -> Option<Privilege> {
        self.at(s, Object::Catalog(catalog.db_id))
            .or_else(|| self.at(s, Object::Section(catalog.section_db_id)))
    }

    /// The caller's privilege on a catalog (§1.6 container codes); `Deny` for nothing.
    pub fn on_catalog(&self, catalog: &Catalog) -> Privilege {
        if self.is_system() {
            return Privilege::Admin;
        }
        let mut best = None;
        for s in self.subjects() {
            best = max_opt(best, allowing(self.catalog_level(s, catalog)));
        }
        let p = best.unwrap_or(Privilege::Deny);
        if p < Privilege::Search && self.allowed_inside(catalog.db_id) {
            return Privilege::Search;
        }
        p
    }

    /// The caller's privilege on a rights view: per subject the deepest of view, catalog
    /// and section, then the highest.
    pub fn on_rights_view(&self, catalog: &Catalog, view: i64) -> Privilege {
        if self.is_system() {
            return Privilege::Admin;
        }
        let mut best = None;
        for s in self.subjects() {
            let p = self
                .at(s, Object::View(catalog.db_id, view))
                .or_else(|| self.catalog_level(s, catalog));
            best = max_opt(best, allowing(p));
        }
        best.unwrap_or(Privilege::Deny)
    }

    /// The caller's privilege on a view: a personal view belongs to its author alone
    /// (`admin` to them, `deny` to everyone else); a rights view as [`Access::on_rights_view`].
    pub fn on_view(
        &self,
        actor: &Actor,
        catalog: &Catalog,
        view: i64,
        kind: ViewKind,
    ) -> Privilege {
        match (kind, actor) {
            (ViewKind::Personal(_), Actor::System) => Privilege::Admin,
            (ViewKind::Personal(author), Actor::User { db_id, .. }) if author == Some(*db_id) => {
                Privilege::Admin
            }
            (ViewKind::Personal(_), _) => Privilege::Deny,
            (ViewKind::Rights, _) => self.on_rights_view(catalog, view),
        }
    }

    /// True when the caller may create, change and delete the rights views of `catalog`,
    /// and sees those hidden from the menu (an empty `name`).
    pub fn manages_rights_views(&self, catalog: &Catalog) -> bool {
        self.on_catalog(catalog).includes(Privilege::Access)
    }

    /// The caller's rules on the rights views and records of a catalog.
    fn my_inner_rules(&self, catalog: i64) -> impl Iterator<Item = &Rule> {
        self.set
            .inner
            .get(&catalog)
            .into_iter()
            .flatten()
            .map(|&i| &self.set.rules[i])
            .filter(|r| self.is_mine(&r.subject))
    }

    /// True when a rights view or record rule of `catalog` lets the caller edit records.
    pub fn edits_inside(&self, catalog: &Catalog) -> bool {
        self.my_inner_rules(catalog.db_id)
            .any(|r| r.privilege.includes(Privilege::Edit))
    }

    /// True when the caller may create records in `catalog`: `create` on the catalog, or
    /// on any rights view of it (§1.7).
    pub fn may_create(&self, catalog: &Catalog) -> bool {
        if self.on_catalog(catalog).includes(Privilege::Create) {
            return true;
        }
        self.my_inner_rules(catalog.db_id).any(|r| {
            matches!(r.object, Object::View(..)) && r.privilege.includes(Privilege::Create)
        })
    }

    /// True when the caller may see every record of `catalog` (no rights view or record
    /// rule narrows it): the values of linked records (`recordValues`) come only from such
    /// catalogs.
    pub fn sees_all(&self, catalog: &Catalog) -> bool {
        self.record_scope(catalog)
            .uniform()
            .is_some_and(|p| p.includes(Privilege::View))
    }

    /// How the caller reaches the records of `catalog`.
    pub fn record_scope(&self, catalog: &Catalog) -> RecordScope {
        if self.is_system() {
            return RecordScope { subjects: None };
        }
        let mut out = Vec::new();
        for s in self.subjects() {
            let mut scope = SubjectScope {
                base: allowing(self.catalog_level(s, catalog)),
                ..SubjectScope::default()
            };
            for r in self
                .set
                .on(Object::Catalog(catalog.db_id))
                .filter(|r| r.subject == *s)
            {
                for (f, c) in &r.fields {
                    let e = scope.catalog_fields.entry(*f).or_insert(*c);
                    *e = (*e).max(*c);
                }
            }
            for &i in self.set.inner.get(&catalog.db_id).into_iter().flatten() {
                let r = &self.set.rules[i];
                if r.subject != *s {
                    continue;
                }
                let (slot, fields) = match r.object {
                    Object::Record(_, rec) => (
                        scope.records.entry(rec),
                        scope.record_fields.entry(rec).or_default(),
                    ),
                    Object::View(_, v) if self.set.views.contains_key(&v) => (
                        scope.views.entry(v),
                        scope.view_fields.entry(v).or_default(),
                    ),
                    _ => continue,
                };
                for (f, c) in &r.fields {
                    let e = fields.entry(*f).or_insert(*c);
                    *e = (*e).max(*c);
                }
                let p = slot.or_insert(r.privilege);
                if r.privilege == Privilege::Deny || *p == Privilege::Deny {
                    *p = Privilege::Deny;
                } else {
                    *p = (*p).max(r.privilege);
                }
            }
            if scope.base.is_some() || !scope.records.is_empty() || !scope.views.is_empty() {
                out.push(scope);
            }
        }
        RecordScope {
            subjects: Some(out),
        }
    }
}

/// Who a view belongs to, as far as rights are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// A personal view and its author's `$users` `dbId`.
    Personal(Option<i64>),
    /// A rights view (`forRights`).
    Rights,
}

/// Fails with 403 unless `have` includes `need`.
pub fn require(have: Privilege, need: Privilege, what: &str) -> Result<()> {
    if have.includes(need) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::Forbidden,
            format!("the {} privilege is needed on {what}", need.code()),
        ))
    }
}

/// Replaces `CURRENT_USER.<fieldId>` in the record ids of link conditions by the records
/// the caller's own `$users` field links to (spec 04 §1.5); a condition left with no
/// record matches nothing.
fn relative(f: Filter, users: Option<&Catalog>, subjects: &[Subject]) -> Filter {
    match f {
        Filter::And(parts) => Filter::and(
            parts
                .into_iter()
                .map(|p| relative(p, users, subjects))
                .collect(),
        ),
        Filter::Or(parts) => Filter::any(
            parts
                .into_iter()
                .map(|p| relative(p, users, subjects))
                .collect(),
        ),
        Filter::Not(inner) => Filter::negate(relative(*inner, users, subjects)),
        Filter::Field(field, Cond::Links(links)) => {
            let mut out = Vec::with_capacity(links.len());
            for l in links {
                let Some(rel) = l
                    .record_id
                    .as_deref()
                    .and_then(|r| r.strip_prefix("CURRENT_USER."))
                else {
                    out.push(l);
                    continue;
                };
                let Some(own) = users.and_then(|u| u.field(rel)) else {
                    continue;
                };
                for s in subjects {
                    if let Subject::Group {
                        field,
                        catalog,
                        record,
                    } = s
                    {
                        if *field == own.db_id && *catalog == l.catalog_db_id {
                            out.push(LinkCond {
                                catalog_db_id: *catalog,
                                record_id: Some(record.to_string()),
                                filter: l.filter.clone(),
                            });
                        }
                    }
                }
            }
            if out.is_empty() {
                Filter::Nothing
            } else {
                Filter::Field(field, Cond::Links(out))
            }
        }
        f => f,
    }
}

impl App {
    /// The rules (loaded on first use after a change), and whether they came from the
    /// cache.
    async fn rule_set_cached(&self) -> Result<(Arc<RuleSet>, bool)> {
        if let Ok(r) = self.rights.rules.read() {
            if let Some(set) = r.as_ref() {
                return Ok((set.clone(), true));
            }
        }
        let generation = self.rights.generation.load(Ordering::SeqCst);
        let rows = self.store.read(store_rights::all_rules).await?;
        let mut wanted: Vec<i64> = rows
            .iter()
            .filter_map(|r| match r.object {
                Object::View(_, v) => Some(v),
                _ => None,
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let views = if wanted.is_empty() {
            Vec::new()
        } else {
            self.rights_views(Selector::Ids(wanted)).await?
        };
        let set = Arc::new(RuleSet::new(rows, views));
        if self.rights.generation.load(Ordering::SeqCst) == generation {
            if let Ok(mut w) = self.rights.rules.write() {
                *w = Some(set.clone());
            }
        }
        Ok((set, false))
    }

    /// The caller's subjects: every employee, themselves, and their right groups.
    async fn subjects_of(&self, user: i64) -> Result<(Arc<Vec<Subject>>, bool)> {
        if let Ok(r) = self.rights.subjects.read() {
            if let Some(s) = r.get(&user) {
                return Ok((s.clone(), true));
            }
        }
        let generation = self.rights.generation.load(Ordering::SeqCst);
        let links = self
            .store
            .read(move |c| store_rights::user_links(c, user))
            .await?;
        let schema = self.schema();
        let users = schema.catalog_by_db_id(USERS).cloned();
        let mut out = vec![Subject::AllUsers, Subject::User(user)];
        for (field, catalog, record) in links {
            // Only link fields of `$users` make groups (they all do today; the check keeps
            // a removed field's leftovers out).
            if users
                .as_ref()
                .is_some_and(|u| u.field_by_db_id(field).is_some())
            {
                out.push(Subject::Group {
                    field,
                    catalog,
                    record,
                });
            }
        }
        let out = Arc::new(out);
        if self.rights.generation.load(Ordering::SeqCst) == generation {
            if let Ok(mut w) = self.rights.subjects.write() {
                w.insert(user, out.clone());
            }
        }
        Ok((out, false))
    }

    /// What `actor` may do, for one request.
    pub async fn access(&self, actor: &Actor) -> Result<Access> {
        let (set, rules_cached) = self.rule_set_cached().await?;
        let (access, cached) = match actor {
            Actor::System => (Access::system(set), rules_cached),
            Actor::User { db_id, .. } => {
                let (subjects, subjects_cached) = self.subjects_of(*db_id).await?;
                (
                    Access {
                        set,
                        subjects: Some(subjects),
                    },
                    rules_cached && subjects_cached,
                )
            }
        };
        let counter = if cached {
            &self.rights.hits
        } else {
            &self.rights.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(access)
    }

    /// 403 unless the caller's privilege on `catalog` (§1.6 container code) includes `need`.
    pub(crate) async fn require_on_catalog(
        &self,
        actor: &Actor,
        catalog: &Catalog,
        need: Privilege,
    ) -> Result<Privilege> {
        let have = self.access(actor).await?.on_catalog(catalog);
        require(have, need, &format!("catalog {:?}", catalog.id))?;
        Ok(have)
    }

    /// `fieldPrivilegeCodes` of a catalog (spec 04 §1.8): the caller's code of each field
    /// at catalog level, for the fields whose code differs from what the catalog's
    /// `privilegeCode` implies (`edit` from `edit` up, `view` below), by public field id.
    pub async fn field_privilege_codes(
        &self,
        actor: &Actor,
        catalog: &Catalog,
    ) -> Result<BTreeMap<String, FieldRight>> {
        let access = self.access(actor).await?;
        let implied = if access.on_catalog(catalog).includes(Privilege::Edit) {
            FieldRight::Edit
        } else {
            FieldRight::View
        };
        let codes = access
            .record_scope(catalog)
            .field_codes(None, &HashSet::new());
        Ok(catalog
            .fields
            .iter()
            .filter(|f| codes.code(f.db_id) != implied)
            .map(|f| (f.id.clone(), codes.code(f.db_id)))
            .collect())
    }

    /// 403 when a list filters or sorts by a field hidden from the caller (spec 04 §1.8).
    pub(crate) fn require_visible_fields(
        &self,
        access: &Access,
        catalog: &Catalog,
        fields: &[i64],
    ) -> Result<()> {
        if access.is_system() {
            return Ok(());
        }
        // Hidden wherever the caller reaches records: at catalog level and in every rights
        // view that gives them something.
        let scope = access.record_scope(catalog);
        let codes = scope.field_codes(None, &scope.allowing_views());
        match fields.iter().find(|f| codes.code(**f) == FieldRight::Hide) {
            None => Ok(()),
            Some(f) => {
                let id = catalog
                    .field_by_db_id(*f)
                    .map(|f| f.id.clone())
                    .unwrap_or_else(|| f.to_string());
                Err(Error::field(
                    ErrorCode::Forbidden,
                    &id,
                    format!("the field {id:?} is hidden from you"),
                ))
            }
        }
    }

    /// How often the rights cache answered without reading the store, and how often not.
    pub fn rights_cache_stats(&self) -> (u64, u64) {
        (
            self.rights.hits.load(Ordering::Relaxed),
            self.rights.misses.load(Ordering::Relaxed),
        )
    }

    /// Drops the cached rules (after a change of rules, rights views or structure).
    pub(crate) fn rights_changed(&self) {
        self.rights.invalidate();
    }

    /// One rights view's filter for the caller.
    fn rights_view_filter(
        &self,
        access: &Access,
        schema: &Schema,
        catalog: &Catalog,
        view: i64,
    ) -> Filter {
        let Some(v) = access.set.view(view) else {
            return Filter::Nothing;
        };
        let parsed = access.view_conditions(
            schema,
            catalog,
            &format!("view {view}: filters"),
            v.conditions.clone(),
            0,
        );
        match parsed {
            Ok(f) => f,
            // A rights view whose filter no longer parses (a field was removed) matches
            // nothing, rather than everything.
            Err(e) => {
                tracing::warn!(view, error = %e, "a rights view's filter does not parse");
                Filter::Nothing
            }
        }
    }

    /// The filter of the records of `catalog` the caller may see (`Filter::All` when rules
    /// give every record).
    pub(crate) fn visible_filter(
        &self,
        access: &Access,
        schema: &Schema,
        catalog: &Catalog,
        scope: &RecordScope,
        listed: Option<i64>,
    ) -> Filter {
        if let Some(p) = scope.uniform() {
            return if p.includes(Privilege::View) {
                Filter::All
            } else {
                Filter::Nothing
            };
        }
        scope.visible(
            &|v| self.rights_view_filter(access, schema, catalog, v),
            listed,
        )
    }

    /// The condition the caller's rights put on the records of `catalog`, as SQL over its
    /// data table (alias `d`), for the search helpers: `None` when they may see none of
    /// them, `Some(None)` when all, else the condition.
    pub(crate) fn rights_condition(
        &self,
        access: &Access,
        schema: &Schema,
        catalog: &Catalog,
    ) -> Option<Option<rq::Statement>> {
        let scope = access.record_scope(catalog);
        match self.visible_filter(access, schema, catalog, &scope, None) {
            Filter::All => Some(None),
            Filter::Nothing => None,
            f => {
                let q = RecordQuery {
                    filter: f,
                    current_user: access.user(),
                    ..RecordQuery::page(0, 0)
                };
                Some(Some(rq::where_sql(
                    self.store.dialect(),
                    catalog.db_id,
                    &catalog.fields,
                    &q,
                )))
            }
        }
    }

    /// The privilege of each of `records` (`dbId`s) of `catalog` for the caller.
    pub(crate) async fn record_privileges(
        &self,
        access: &Access,
        catalog: &Catalog,
        records: &[i64],
    ) -> Result<HashMap<i64, Privilege>> {
        Ok(self
            .record_rights(access, catalog, records)
            .await?
            .into_iter()
            .map(|(r, (p, _))| (r, p))
            .collect())
    }

    /// The privilege and the field codes of each of `records` of `catalog` for the caller.
    pub(crate) async fn record_rights(
        &self,
        access: &Access,
        catalog: &Catalog,
        records: &[i64],
    ) -> Result<HashMap<i64, (Privilege, FieldCodes)>> {
        let scope = access.record_scope(catalog);
        let none = HashSet::new();
        if let Some(p) = scope.uniform() {
            let codes = scope.field_codes(None, &none);
            return Ok(records.iter().map(|r| (*r, (p, codes.clone()))).collect());
        }
        let schema = self.schema();
        let mut member: HashMap<i64, HashSet<i64>> = HashMap::new();
        for v in scope.views() {
            let filter = self.rights_view_filter(access, &schema, catalog, v);
            let q = RecordQuery {
                filter: Filter::and(vec![filter, Filter::Records(records.to_vec())]),
                limit: records.len().max(1) as i64,
                current_user: access.user(),
                ..RecordQuery::page(0, 0)
            };
            let (cat, fields) = (catalog.db_id, catalog.fields.clone());
            let ids = self
                .store
                .read(move |c| rq::page_ids(c, cat, &fields, &q))
                .await?;
            for id in ids {
                member.entry(id).or_default().insert(v);
            }
        }
        Ok(records
            .iter()
            .map(|r| {
                let m = member.get(r).unwrap_or(&none);
                (*r, (scope.record(*r, m), scope.field_codes(Some(*r), m)))
            })
            .collect())
    }
}
