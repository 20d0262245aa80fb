//! `iframe`: an embedded page in the form (undocumented in the API). No value; the config is
//! stored and echoed, its `url`, when given, must be a string.

use serde_json::{Map, Value};

use crate::error::FieldError;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_string(cfg, "url")
}
