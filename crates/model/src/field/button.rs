//! `button`: an action in the form, active when a `record.updating` event watches it. No value.

use serde_json::{Map, Value};

use crate::error::FieldError;

pub(super) fn config(_cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    Ok(())
}
