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
