//! A catalog with one field of every type, and a linked catalog, as a filter [`Scope`].

#![allow(dead_code)]

use kartoteka_filter::{Linked, Scope};
use kartoteka_model::{FieldDef, FieldType};
use serde_json::{json, Value};

pub fn field(db_id: i64, id: &str, t: FieldType, config: Value) -> FieldDef {
    FieldDef {
        db_id,
        id: id.into(),
        prev_id: id.into(),
        duplicate: false,
        name: id.into(),
        field_type: t,
        hint: String::new(),
        required: false,
        api_only: false,
        filterable: true,
        history: true,
        hidden: false,
        comment: String::new(),
        config: config.as_object().cloned().unwrap_or_default(),
        visible: Value::Null,
        is_system: false,
        column: format!("f{db_id}"),
    }
}

pub struct Cat {
    pub db_id: i64,
    pub id: &'static str,
    pub fields: Vec<FieldDef>,
}

pub struct TestScope {
    pub cats: Vec<Cat>,
    pub at: usize,
}

impl Scope for TestScope {
    fn field(&self, id: &str) -> Option<&FieldDef> {
        let fs = &self.cats[self.at].fields;
        fs.iter()
            .find(|f| f.id == id)
            .or_else(|| fs.iter().find(|f| f.prev_id == id))
    }

    fn linked(&self, field: &FieldDef, catalog_id: &str) -> Option<Linked<'_>> {
        let sources = kartoteka_model::field::source_catalogs(&field.config);
        let (i, c) = self
            .cats
            .iter()
            .enumerate()
            .find(|(_, c)| c.id == catalog_id || c.db_id.to_string() == catalog_id)?;
        if !sources
            .iter()
            .any(|s| s == c.id || *s == c.db_id.to_string())
        {
            return None;
        }
        Some(Linked {
            catalog_db_id: c.db_id,
            scope: Box::new(TestScope {
                cats: self
                    .cats
                    .iter()
                    .map(|c| Cat {
                        db_id: c.db_id,
                        id: c.id,
                        fields: c.fields.clone(),
                    })
                    .collect(),
                at: i,
            }),
        })
    }
}

pub fn scope() -> TestScope {
    let items = json!({"items": [{"id": "1", "name": "New", "dbId": 1}, {"id": "2", "name": "Won", "dbId": 2}, {"id": "$lost", "name": "Lost", "dbId": 9}]});
    let deals = vec![
        field(1, "1", FieldType::Group, json!({})),
        field(2, "2", FieldType::Text, json!({})),
        field(3, "3", FieldType::Number, json!({})),
        field(4, "4", FieldType::Date, json!({"time": true})),
        field(5, "5", FieldType::Dropdown, items.clone()),
        field(6, "6", FieldType::Checkboxes, items.clone()),
        field(7, "7", FieldType::Radiobutton, items),
        field(8, "8", FieldType::Switch, json!({})),
        field(9, "9", FieldType::Progress, json!({})),
        field(10, "10", FieldType::Stars, json!({})),
        field(11, "11", FieldType::User, json!({"multiselect": true})),
        field(
            12,
            "12",
            FieldType::Object,
            json!({"catalogs": [{"id": "clients"}]}),
        ),
        field(13, "13", FieldType::File, json!({})),
        field(14, "14", FieldType::Contact, json!({"type": "phone"})),
        field(15, "15", FieldType::Address, json!({})),
        field(16, "16", FieldType::Button, json!({})),
        field(17, "day", FieldType::Date, json!({})),
    ];
    let clients = vec![
        field(21, "2", FieldType::Text, json!({})),
        field(22, "5", FieldType::Number, json!({})),
        field(
            23,
            "city",
            FieldType::Object,
            json!({"catalogs": [{"id": "clients"}]}),
        ),
    ];
    TestScope {
        cats: vec![
            Cat {
                db_id: 100,
                id: "deals",
                fields: deals,
            },
            Cat {
                db_id: 101,
                id: "clients",
                fields: clients,
            },
        ],
        at: 0,
    }
}
