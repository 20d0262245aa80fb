//! `group`: a form section or, with `config.tab: true`, a tab. Layout only, no value.

use serde_json::{Map, Value};

use crate::error::FieldError;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_bool(cfg, "tab")
}
