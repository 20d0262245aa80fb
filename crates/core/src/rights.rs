//! The rights check every read and write passes through. Until the rights policy lands
//! (rules, groups, rights views, field rights), every authenticated employee holds `admin`
//! and the system actor (automations) holds everything; anonymous callers hold nothing.
//! Call sites already name the privilege they need, so the policy can change here alone.

use kartoteka_model::privilege::Privilege;
use kartoteka_model::ErrorCode;

use crate::error::{Error, Result};
use crate::schema::{Catalog, Section};
use crate::Actor;

/// The caller's privilege on a section.
pub fn on_section(actor: &Actor, _section: &Section) -> Privilege {
    base(actor)
}

/// The caller's privilege on a catalog.
pub fn on_catalog(actor: &Actor, _catalog: &Catalog) -> Privilege {
    base(actor)
}

/// Who a view belongs to, as far as rights are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// A personal view and its author's `$users` `dbId`.
    Personal(Option<i64>),
    /// A rights view (`forRights`).
    Rights,
}

/// The caller's privilege on a view of `catalog` (spec 01 §8, spec 04 §1.5). A personal
/// view belongs to its author alone: `admin` to them, `deny` to everyone else. A rights view
/// gives what the catalog gives until rights views grant privileges of their own; managing
/// one takes `access` on the catalog ([`manages_rights_views`]).
pub fn on_view(actor: &Actor, catalog: &Catalog, kind: ViewKind) -> Privilege {
    match (kind, actor) {
        (ViewKind::Personal(_), Actor::System) => Privilege::Admin,
        (ViewKind::Personal(author), Actor::User { db_id, .. }) if author == Some(*db_id) => {
            Privilege::Admin
        }
        (ViewKind::Personal(_), _) => Privilege::Deny,
        (ViewKind::Rights, _) => on_catalog(actor, catalog),
    }
}

/// True when the caller may create, change and delete the rights views of `catalog`, and
/// sees those hidden from the menu (an empty `name`).
pub fn manages_rights_views(actor: &Actor, catalog: &Catalog) -> bool {
    on_catalog(actor, catalog).includes(Privilege::Access)
}

fn base(actor: &Actor) -> Privilege {
    match actor {
        Actor::System | Actor::User { .. } => Privilege::Admin,
    }
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
