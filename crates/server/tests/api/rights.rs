//! The rights policy (spec 04 §1): the Rights API (§1.9), `privilegeCode` in sections,
//! catalogs and records (§1.10), the capability checks on records and views (§1.7), and the
//! worked cases T-R1 … T-R18 and T-R20 of §1.11 (field rights, export and import are tested
//! elsewhere).
//!
//! Every fixture first replaces the default `allUsers → admin` rule of section S with the
//! bootstrap administrator's own `admin` rule, so the other employees start with nothing there.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{enc, field_id, id, Resp, TestApp, EMAIL};

const PASS: &str = "secret1";

/// An employee: their `$users` record id and login.
struct Emp {
    id: String,
    email: String,
}

impl Emp {
    fn cred(&self) -> (&str, &str) {
        (self.email.as_str(), PASS)
    }
}

/// Spec 04 §1.11: section S holds Clients (C) and Orders (O); `$users` links to Roles
/// {Admin, Senior, Manager} through Role and to Cities {Moscow, Petersburg} through City.
/// Andrey = Admin, Anna = Senior, Ivan = Manager in Moscow, Petr = Manager in Petersburg.
struct Fx {
    t: TestApp,
    /// The bootstrap administrator's `$users` record id.
    admin: String,
    s: String,
    c: String,
    o: String,
    roles: String,
    cities: String,
    /// Link fields of `$users`.
    role_field: String,
    city_field: String,
    /// Roles records.
    role_admin: String,
    role_manager: String,
    /// Cities records.
    moscow: String,
    /// Clients fields.
    c_name: String,
    c_category: String,
    c_city: String,
    vip: String,
    /// Orders fields.
    o_name: String,
    o_manager: String,
    o_comment: String,
    o_status: String,
    closed: String,
    andrey: Emp,
    anna: Emp,
    ivan: Emp,
    petr: Emp,
    /// Clients: Regular/Moscow, VIP/Moscow, Regular/Petersburg, VIP/Petersburg.
    alpha: String,
    beta: String,
    gamma: String,
    delta: String,
    /// Orders: Ivan's new and closed ones, Petr's new and closed ones.
    ivan_new: String,
    ivan_closed: String,
    petr_new: String,
    petr_closed: String,
}

async fn admin_record_id(t: &TestApp) -> String {
    let list = t.get("/api/v1/catalogs/$users/records").await;
    list.expect(200)
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["values"]["$email"] == EMAIL)
        .map(id)
        .unwrap_or_else(|| panic!("no record of {EMAIL} in {}", list.json))
}

/// The id of the item called `item` of the dropdown field called `field`.
fn item_id(catalog: &Value, field: &str, item: &str) -> String {
    let fid = field_id(catalog, field);
    catalog["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["id"] == fid.as_str()))
        .and_then(|f| f["config"]["items"].as_array())
        .and_then(|items| items.iter().find(|i| i["name"] == item))
        .and_then(|i| i["id"].as_str())
        .unwrap_or_else(|| panic!("no item {item} of {field} in {catalog}"))
        .to_string()
}

/// A catalog in section `s` (the harness's `catalog` makes a new section each time).
async fn catalog_in(t: &TestApp, s: &str, name: &str, fields: Value) -> Value {
    let r = t
        .post(
            "/api/v1/catalogs",
            json!({"sectionId": s, "name": name, "fields": fields}),
        )
        .await;
    r.expect(200).clone()
}

fn link(catalog: &str, record: &str) -> Value {
    json!([{"catalogId": catalog, "recordId": record}])
}

async fn fixture() -> Fx {
    let t = TestApp::start().await;
    let admin = admin_record_id(&t).await;

    let roles_cat = t
        .catalog("Roles", json!([{"name": "Name", "type": "text"}]))
        .await;
    let roles = id(&roles_cat);
    let rname = field_id(&roles_cat, "Name");
    let mut role = Vec::new();
    for n in ["Admin", "Senior", "Manager"] {
        role.push(id(&t.record(&roles, json!({rname.clone(): n})).await));
    }
    let cities_cat = t
        .catalog("Cities", json!([{"name": "Name", "type": "text"}]))
        .await;
    let cities = id(&cities_cat);
    let ciname = field_id(&cities_cat, "Name");
    let moscow = id(&t.record(&cities, json!({ciname.clone(): "Moscow"})).await);
    let petersburg = id(&t
        .record(&cities, json!({ciname.clone(): "Petersburg"}))
        .await);

    // Role and City on the employee card: the sources of right groups.
    let users = t.get("/api/v1/catalogs/$users").await.expect(200).clone();
    let mut list: Vec<Value> = users["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f.get("isDuplicated").is_none())
        .cloned()
        .collect();
    list.push(json!({"name": "Role", "type": "object", "config": {"catalogs": [{"id": roles}]}}));
    list.push(json!({"name": "City", "type": "object", "config": {"catalogs": [{"id": cities}]}}));
    let users = t
        .patch("/api/v1/catalogs/$users", json!({"fields": list}))
        .await
        .expect(200)
        .clone();
    let role_field = field_id(&users, "Role");
    let city_field = field_id(&users, "City");

    let employee = |name: &'static str, role: String, city: Option<String>| {
        let t = &t;
        let (role_field, city_field, roles, cities) = (&role_field, &city_field, &roles, &cities);
        async move {
            let email = format!("{}@example.com", name.to_lowercase());
            let mut values = json!({
                "$name": name, "$email": email, "$password": PASS,
                role_field.clone(): link(roles, &role),
            });
            if let Some(city) = city {
                values[city_field.as_str()] = link(cities, &city);
            }
            let r = t.record("$users", values).await;
            Emp { id: id(&r), email }
        }
    };
    let andrey = employee("Andrey", role[0].clone(), None).await;
    let anna = employee("Anna", role[1].clone(), None).await;
    let ivan = employee("Ivan", role[2].clone(), Some(moscow.clone())).await;
    let petr = employee("Petr", role[2].clone(), Some(petersburg.clone())).await;

    let s = t.section("S").await;
    let clients = catalog_in(
        &t,
        &s,
        "Clients",
        json!([
            {"name": "Name", "type": "text"},
            {"name": "Category", "type": "dropdown", "config": {"items": [{"name": "Regular"}, {"name": "VIP"}]}},
            {"name": "City", "type": "object", "config": {"catalogs": [{"id": cities}]}}
        ]),
    )
    .await;
    let c = id(&clients);
    let (c_name, c_category, c_city) = (
        field_id(&clients, "Name"),
        field_id(&clients, "Category"),
        field_id(&clients, "City"),
    );
    let regular = item_id(&clients, "Category", "Regular");
    let vip = item_id(&clients, "Category", "VIP");
    let mut cl = Vec::new();
    for (n, cat, city) in [
        ("Alpha", &regular, &moscow),
        ("Beta", &vip, &moscow),
        ("Gamma", &regular, &petersburg),
        ("Delta", &vip, &petersburg),
    ] {
        let r = t
            .record(
                &c,
                json!({c_name.clone(): n, c_category.clone(): [cat], c_city.clone(): link(&cities, city)}),
            )
            .await;
        cl.push(id(&r));
    }

    let orders = catalog_in(
        &t,
        &s,
        "Orders",
        json!([
            {"name": "Name", "type": "text"},
            {"name": "Manager", "type": "user"},
            {"name": "Client", "type": "object", "config": {"catalogs": [{"id": c}]}},
            {"name": "Comment", "type": "text"},
            {"name": "Status", "type": "dropdown", "config": {"items": [{"name": "New"}, {"name": "Closed"}]}}
        ]),
    )
    .await;
    let o = id(&orders);
    let (o_name, o_manager, o_client, o_comment, o_status) = (
        field_id(&orders, "Name"),
        field_id(&orders, "Manager"),
        field_id(&orders, "Client"),
        field_id(&orders, "Comment"),
        field_id(&orders, "Status"),
    );
    let new = item_id(&orders, "Status", "New");
    let closed = item_id(&orders, "Status", "Closed");
    let mut or = Vec::new();
    for (n, who, status, client) in [
        ("Ivan new", &ivan, &new, &cl[0]),
        ("Ivan closed", &ivan, &closed, &cl[1]),
        ("Petr new", &petr, &new, &cl[2]),
        ("Petr closed", &petr, &closed, &cl[3]),
    ] {
        let r = t
            .record(
                &o,
                json!({o_name.clone(): n, o_manager.clone(): [{"id": who.id}],
                    o_client.clone(): link(&c, client), o_status.clone(): [status]}),
            )
            .await;
        or.push(id(&r));
    }

    let x = Fx {
        t,
        admin,
        s,
        c,
        o,
        roles,
        cities,
        role_field,
        city_field,
        role_admin: role[0].clone(),
        role_manager: role[2].clone(),
        moscow,
        c_name,
        c_category,
        c_city,
        vip,
        o_name,
        o_manager,
        o_comment,
        o_status,
        closed,
        andrey,
        anna,
        ivan,
        petr,
        alpha: cl[0].clone(),
        beta: cl[1].clone(),
        gamma: cl[2].clone(),
        delta: cl[3].clone(),
        ivan_new: or[0].clone(),
        ivan_closed: or[1].clone(),
        petr_new: or[2].clone(),
        petr_closed: or[3].clone(),
    };
    // The administrator keeps control of S; nobody else has anything there.
    x.set(sec(&x.s), vec![rule(user(&x.admin), "admin")]).await;
    x
}

// ----- objects, subjects and rules on the wire -----

fn sec(s: &str) -> Value {
    json!({"sectionId": s})
}
fn cat(c: &str) -> Value {
    json!({"catalogId": c})
}
fn view_obj(c: &str, v: &str) -> Value {
    json!({"catalogId": c, "viewId": v})
}
fn rec(c: &str, r: &str) -> Value {
    json!({"catalogId": c, "recordId": r})
}

fn all_users() -> Value {
    json!({"userAttr": "allUsers", "catalogId": null, "recordId": null})
}
fn user(record: &str) -> Value {
    json!({"userAttr": "id", "catalogId": "$users", "recordId": record})
}
fn rule(subject: Value, code: &str) -> Value {
    json!({"rightSubject": subject, "privilegeCode": code})
}
/// A rule as GET /rights shows it, without the fields the spec leaves free.
fn direct(subject: Value, code: &str) -> Value {
    json!({"type": "direct", "privilegeCode": code, "rightSubject": subject})
}
fn auto(subject: Value) -> Value {
    json!({"type": "auto", "privilegeCode": "search", "rightSubject": subject})
}

fn by_text(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// The rules of one entry of a GET /rights answer, reduced to type, code and the three subject
/// keys (a missing key shows as `"<absent>"`, so `null` must be sent as `null`).
fn shown(entry: &Value) -> Vec<Value> {
    let rules = entry["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules array in {entry}"));
    by_text(
        rules
            .iter()
            .map(|r| {
                if r["type"] == "direct" {
                    assert!(r["id"].is_string(), "a direct rule has a text id: {r}");
                }
                let s = &r["rightSubject"];
                let key = |k: &str| s.get(k).cloned().unwrap_or(json!("<absent>"));
                json!({"type": r["type"], "privilegeCode": r["privilegeCode"],
                    "rightSubject": {"userAttr": key("userAttr"), "catalogId": key("catalogId"), "recordId": key("recordId")}})
            })
            .collect(),
    )
}

#[track_caller]
fn assert_rules(entry: &Value, expected: Vec<Value>) {
    assert_eq!(shown(entry), by_text(expected), "entry: {entry}");
}

/// The entry of a GET /rights answer for `object`.
#[track_caller]
fn entry<'a>(list: &'a Value, object: &Value) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .find(|e| &e["object"] == object)
        .unwrap_or_else(|| panic!("no entry for {object} in {list}"))
}

fn objects(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|e| e["object"].clone())
        .collect()
}

fn privileges(entry: &Value) -> Vec<&str> {
    entry["privileges"]
        .as_array()
        .unwrap_or_else(|| panic!("no privileges in {entry}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// The `privilegeCode` of the item with this id in a list answer; `None` when not listed.
fn code_in(list: &Value, item: &str) -> Option<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .find(|x| x["id"] == item)
        .map(|x| {
            x["privilegeCode"]
                .as_str()
                .unwrap_or_else(|| panic!("no privilegeCode in {x}"))
                .to_string()
        })
}

fn sorted(v: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

impl Fx {
    fn group(&self, role: &str) -> Value {
        json!({"userAttr": self.role_field, "catalogId": self.roles, "recordId": role})
    }

    async fn as_(&self, e: &Emp, m: Method, path: &str, body: Option<Value>) -> Resp {
        self.t.call_as(e.cred(), m, path, body).await
    }

    /// Replaces the direct rules of `object` as the administrator; returns the answer.
    async fn set(&self, object: Value, rules: Vec<Value>) -> Value {
        let r = self
            .t
            .post("/api/v1/rights", json!({"object": object, "rules": rules}))
            .await;
        r.expect(200).clone()
    }

    /// GET /rights as the administrator.
    async fn rights(&self, query: &str) -> Value {
        let r = self.t.get(&format!("/api/v1/rights?{query}")).await;
        r.expect(200).clone()
    }

    /// Creates a rights view as the administrator and returns its id.
    async fn rights_view(&self, catalog: &str, name: &str, filters: Value) -> String {
        let r = self
            .t
            .post(
                &format!("/api/v1/catalogs/{catalog}/views"),
                json!({"name": name, "forRights": true, "filters": filters}),
            )
            .await;
        id(r.expect(200))
    }

    /// V_my: the orders whose Manager is the caller.
    async fn v_my(&self) -> String {
        self.rights_view(
            &self.o,
            "My orders",
            json!([{"attr": self.o_manager, "value": ["CURRENT_USER"]}]),
        )
        .await
    }

    /// The record ids `e` gets listing catalog `c`, sorted.
    async fn listed(&self, e: &Emp, c: &str) -> Vec<String> {
        let r = self
            .as_(
                e,
                Method::GET,
                &format!("/api/v1/catalogs/{c}/records"),
                None,
            )
            .await;
        let mut ids: Vec<String> = r
            .expect(200)
            .as_array()
            .expect("array")
            .iter()
            .map(id)
            .collect();
        ids.sort();
        ids
    }

    /// The records list of `c` as `e`, expecting 200.
    async fn list_json(&self, e: &Emp, c: &str) -> Value {
        let r = self
            .as_(
                e,
                Method::GET,
                &format!("/api/v1/catalogs/{c}/records"),
                None,
            )
            .await;
        r.expect(200).clone()
    }

    async fn get_record(&self, e: &Emp, c: &str, r: &str) -> Resp {
        self.as_(
            e,
            Method::GET,
            &format!("/api/v1/catalogs/{c}/records/{r}"),
            None,
        )
        .await
    }

    /// The `privilegeCode` `e` gets on one record.
    async fn record_code(&self, e: &Emp, c: &str, r: &str) -> String {
        let got = self.get_record(e, c, r).await;
        got.expect(200)["privilegeCode"]
            .as_str()
            .unwrap_or_else(|| panic!("no privilegeCode in {}", got.json))
            .to_string()
    }

    async fn patch_order(&self, e: &Emp, r: &str) -> Resp {
        self.as_(
            e,
            Method::PATCH,
            &format!("/api/v1/catalogs/{}/records/{r}", self.o),
            Some(json!({"values": {self.o_comment.clone(): format!("by {}", e.email)}})),
        )
        .await
    }

    async fn patch_client(&self, e: &Emp, r: &str) -> Resp {
        self.as_(
            e,
            Method::PATCH,
            &format!("/api/v1/catalogs/{}/records/{r}", self.c),
            Some(json!({"values": {self.c_name.clone(): format!("renamed by {}", e.email)}})),
        )
        .await
    }

    async fn delete_record(&self, e: &Emp, c: &str, r: &str) -> Resp {
        self.as_(
            e,
            Method::DELETE,
            &format!("/api/v1/catalogs/{c}/records/{r}"),
            None,
        )
        .await
    }

    /// `e` creates an order managed by `manager`.
    async fn new_order(&self, e: &Emp, manager: &Emp) -> Resp {
        self.as_(
            e,
            Method::POST,
            &format!("/api/v1/catalogs/{}/records", self.o),
            Some(json!({"values": {
                self.o_name.clone(): format!("from {}", e.email),
                self.o_manager.clone(): [{"id": manager.id}],
            }})),
        )
        .await
    }

    /// GET of a section or catalog (`path`) as `e`: its `privilegeCode`, expecting 200.
    async fn code_of(&self, e: &Emp, path: &str) -> String {
        let r = self.as_(e, Method::GET, path, None).await;
        r.expect(200)["privilegeCode"]
            .as_str()
            .unwrap_or_else(|| panic!("no privilegeCode in {}", r.json))
            .to_string()
    }

    async fn sections_as(&self, e: &Emp) -> Value {
        let r = self.as_(e, Method::GET, "/api/v1/sections", None).await;
        r.expect(200).clone()
    }

    async fn catalogs_as(&self, e: &Emp) -> Value {
        let r = self.as_(e, Method::GET, "/api/v1/catalogs", None).await;
        r.expect(200).clone()
    }

    /// A POST /rights that must be refused with `status` (and `code` when given), leaving the
    /// rules GET `query` shows unchanged.
    async fn refused(
        &self,
        who: Option<&Emp>,
        body: Value,
        status: u16,
        code: Option<&str>,
        query: &str,
    ) {
        let before = self.rights(query).await;
        let r = match who {
            Some(e) => {
                self.as_(e, Method::POST, "/api/v1/rights", Some(body.clone()))
                    .await
            }
            None => self.t.post("/api/v1/rights", body.clone()).await,
        };
        match code {
            Some(code) => r.expect_error(status, code, None),
            None => assert_eq!(r.status, status, "{body} answered {}", r.json),
        }
        assert_eq!(
            self.rights(query).await,
            before,
            "a refused POST {body} changed the rules"
        );
    }
}

// ----- defaults -----

/// T-R15: a new section has exactly one rule, allUsers → admin; a new catalog has none of its
/// own and inherits it.
#[tokio::test]
async fn r15_new_section_has_one_all_users_admin_rule_and_a_new_catalog_inherits_it() {
    let x = fixture().await;
    let s2 = x.t.section("Fresh").await;
    let got = x.rights(&format!("sectionId={s2}")).await;
    assert_eq!(objects(&got), vec![sec(&s2)], "{got}");
    assert_rules(&got[0], vec![direct(all_users(), "admin")]);
    let c2 = id(&catalog_in(
        &x.t,
        &s2,
        "Fresh things",
        json!([{"name": "Name", "type": "text"}]),
    )
    .await);
    let got = x.rights(&format!("catalogId={c2}")).await;
    assert_eq!(objects(&got), vec![sec(&s2), cat(&c2)], "{got}");
    assert_rules(&got[0], vec![direct(all_users(), "admin")]);
    assert_rules(&got[1], vec![]);
    // Every employee administers it until the rights are restricted.
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/sections/{s2}")).await,
        "admin"
    );
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/catalogs/{c2}")).await,
        "admin"
    );
}

/// `$settings` starts with `admin` for the first administrator only (an `id` rule rendered
/// with `"$users"` and a text record id); other employees neither see it nor create sections.
#[tokio::test]
async fn settings_section_belongs_to_the_first_administrator_only() {
    let x = fixture().await;
    let got = x.rights("sectionId=$settings").await;
    assert_eq!(objects(&got), vec![sec("$settings")], "{got}");
    assert_rules(&got[0], vec![direct(user(&x.admin), "admin")]);
    assert!(privileges(&got[0]).contains(&"admin"), "{got}");
    let sections = x.t.get("/api/v1/sections").await;
    assert_eq!(
        code_in(sections.expect(200), "$settings").as_deref(),
        Some("admin")
    );
    assert_eq!(code_in(&x.sections_as(&x.ivan).await, "$settings"), None);
    x.as_(&x.ivan, Method::GET, "/api/v1/sections/$settings", None)
        .await
        .expect_error(403, "forbidden", None);
    x.as_(
        &x.ivan,
        Method::POST,
        "/api/v1/sections",
        Some(json!({"name": "Mine"})),
    )
    .await
    .expect_error(403, "forbidden", None);
}

/// T-R4: with the default rule replaced, an employee without rules sees nothing of S.
#[tokio::test]
async fn r4_employee_without_rules_sees_nothing_in_the_section() {
    let x = fixture().await;
    assert_eq!(code_in(&x.sections_as(&x.ivan).await, &x.s), None);
    let catalogs = x.catalogs_as(&x.ivan).await;
    assert_eq!(code_in(&catalogs, &x.c), None);
    assert_eq!(code_in(&catalogs, &x.o), None);
    for path in [
        format!("/api/v1/sections/{}", x.s),
        format!("/api/v1/catalogs/{}", x.c),
        format!("/api/v1/catalogs/{}/records", x.c),
        format!("/api/v1/catalogs/{}/records/{}", x.c, x.alpha),
        format!("/api/v1/rights?sectionId={}", x.s),
        format!("/api/v1/rights?catalogId={}", x.c),
        format!("/api/v1/rights?catalogId={}&recordId={}", x.c, x.alpha),
    ] {
        x.as_(&x.ivan, Method::GET, &path, None)
            .await
            .expect_error(403, "forbidden", None);
    }
    x.patch_client(&x.ivan, &x.alpha)
        .await
        .expect_error(403, "forbidden", None);
    x.delete_record(&x.ivan, &x.c, &x.alpha)
        .await
        .expect_error(403, "forbidden", None);
    x.as_(
        &x.ivan,
        Method::POST,
        &format!("/api/v1/catalogs/{}/records", x.c),
        Some(json!({"values": {x.c_name.clone(): "New"}})),
    )
    .await
    .expect_error(403, "forbidden", None);
    // The administrator still holds S through his own rule.
    let s = x.t.get(&format!("/api/v1/sections/{}", x.s)).await;
    assert_eq!(s.expect(200)["privilegeCode"], "admin");
    let sections = x.t.get("/api/v1/sections").await;
    assert_eq!(
        code_in(sections.expect(200), &x.s).as_deref(),
        Some("admin")
    );
    let catalogs = x.t.get("/api/v1/catalogs").await;
    assert_eq!(
        code_in(catalogs.expect(200), &x.c).as_deref(),
        Some("admin")
    );
}

// ----- resolution -----

/// T-R1: across subjects the highest privilege wins: allUsers `edit` beats Ivan's own `view`.
#[tokio::test]
async fn r1_all_users_edit_beats_a_personal_view_rule() {
    let x = fixture().await;
    x.set(
        cat(&x.c),
        vec![rule(all_users(), "edit"), rule(user(&x.ivan.id), "view")],
    )
    .await;
    x.patch_client(&x.ivan, &x.alpha).await.expect(200);
    assert_eq!(x.record_code(&x.ivan, &x.c, &x.alpha).await, "edit");
    let list = x.list_json(&x.ivan, &x.c).await;
    for r in [&x.alpha, &x.beta, &x.gamma, &x.delta] {
        assert_eq!(code_in(&list, r).as_deref(), Some("edit"), "{list}");
    }
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/catalogs/{}", x.c))
            .await,
        "edit"
    );
    // `edit` is not `delete`.
    x.delete_record(&x.ivan, &x.c, &x.alpha)
        .await
        .expect_error(403, "forbidden", None);
}

/// T-R2: within one subject the deeper level wins: section `edit`, catalog `view` → `view` in
/// C; O inherits `edit` from the section.
#[tokio::test]
async fn r2_within_one_subject_the_catalog_rule_overrides_the_section_rule() {
    let x = fixture().await;
    x.set(
        sec(&x.s),
        vec![
            rule(user(&x.admin), "admin"),
            rule(user(&x.ivan.id), "edit"),
        ],
    )
    .await;
    x.set(cat(&x.c), vec![rule(user(&x.ivan.id), "view")]).await;
    assert_eq!(x.record_code(&x.ivan, &x.c, &x.alpha).await, "view");
    x.patch_client(&x.ivan, &x.alpha)
        .await
        .expect_error(403, "forbidden", None);
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/catalogs/{}", x.c))
            .await,
        "view"
    );
    assert_eq!(x.record_code(&x.ivan, &x.o, &x.petr_new).await, "edit");
    x.patch_order(&x.ivan, &x.petr_new).await.expect(200);
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/catalogs/{}", x.o))
            .await,
        "edit"
    );
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/sections/{}", x.s))
            .await,
        "edit"
    );
}

/// T-R3: a personal `view` rule and a right-group `delete` rule: the member gets `delete`.
#[tokio::test]
async fn r3_a_group_rule_and_a_personal_rule_give_the_higher_privilege() {
    let x = fixture().await;
    x.set(
        cat(&x.c),
        vec![
            rule(user(&x.ivan.id), "view"),
            rule(x.group(&x.role_manager), "delete"),
        ],
    )
    .await;
    assert_eq!(x.record_code(&x.ivan, &x.c, &x.beta).await, "delete");
    x.delete_record(&x.ivan, &x.c, &x.alpha).await.expect(200);
    x.get_record(&x.ivan, &x.c, &x.alpha)
        .await
        .expect_error(404, "record_not_found", None);
    // Petr is a Manager too; Anna (Senior) is in neither subject.
    assert_eq!(x.record_code(&x.petr, &x.c, &x.beta).await, "delete");
    x.as_(
        &x.anna,
        Method::GET,
        &format!("/api/v1/catalogs/{}", x.c),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);
}

/// T-R5: a rights view (Manager = CURRENT_USER) with Ivan `view` and nothing else: he lists only
/// his orders and cannot write; O and S are listed with `search`.
#[tokio::test]
async fn r5_rights_view_with_view_shows_only_own_orders_read_only() {
    let x = fixture().await;
    let v = x.v_my().await;
    x.set(view_obj(&x.o, &v), vec![rule(user(&x.ivan.id), "view")])
        .await;
    assert_eq!(
        x.listed(&x.ivan, &x.o).await,
        sorted(&[&x.ivan_new, &x.ivan_closed])
    );
    assert_eq!(x.record_code(&x.ivan, &x.o, &x.ivan_new).await, "view");
    x.get_record(&x.ivan, &x.o, &x.petr_new)
        .await
        .expect_error(403, "forbidden", None);
    x.patch_order(&x.ivan, &x.ivan_new)
        .await
        .expect_error(403, "forbidden", None);
    x.new_order(&x.ivan, &x.ivan)
        .await
        .expect_error(403, "forbidden", None);
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/catalogs/{}", x.o))
            .await,
        "search"
    );
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/sections/{}", x.s))
            .await,
        "search"
    );
    assert_eq!(
        code_in(&x.sections_as(&x.ivan).await, &x.s).as_deref(),
        Some("search")
    );
    let catalogs = x.catalogs_as(&x.ivan).await;
    assert_eq!(code_in(&catalogs, &x.o).as_deref(), Some("search"));
    assert_eq!(code_in(&catalogs, &x.c), None, "nothing in Clients");
    // Petr holds no rule on the view.
    x.as_(
        &x.petr,
        Method::GET,
        &format!("/api/v1/catalogs/{}/records", x.o),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);
}

/// T-R6: the same rights view with `edit`: Ivan edits his own orders only and cannot create.
#[tokio::test]
async fn r6_rights_view_with_edit_edits_own_orders_but_cannot_create() {
    let x = fixture().await;
    let v = x.v_my().await;
    x.set(view_obj(&x.o, &v), vec![rule(user(&x.ivan.id), "edit")])
        .await;
    x.patch_order(&x.ivan, &x.ivan_new).await.expect(200);
    assert_eq!(x.record_code(&x.ivan, &x.o, &x.ivan_closed).await, "edit");
    x.patch_order(&x.ivan, &x.petr_new)
        .await
        .expect_error(403, "forbidden", None);
    x.new_order(&x.ivan, &x.ivan)
        .await
        .expect_error(403, "forbidden", None);
    x.delete_record(&x.ivan, &x.o, &x.ivan_new)
        .await
        .expect_error(403, "forbidden", None);
    assert_eq!(
        x.listed(&x.ivan, &x.o).await,
        sorted(&[&x.ivan_new, &x.ivan_closed])
    );
}

/// T-R7: catalog `view` plus rights view `edit`: all orders listed, only his own editable.
#[tokio::test]
async fn r7_catalog_view_and_rights_view_edit_list_all_and_edit_own() {
    let x = fixture().await;
    let v = x.v_my().await;
    x.set(cat(&x.o), vec![rule(user(&x.ivan.id), "view")]).await;
    x.set(view_obj(&x.o, &v), vec![rule(user(&x.ivan.id), "edit")])
        .await;
    assert_eq!(
        x.listed(&x.ivan, &x.o).await,
        sorted(&[&x.ivan_new, &x.ivan_closed, &x.petr_new, &x.petr_closed])
    );
    let list = x.list_json(&x.ivan, &x.o).await;
    assert_eq!(code_in(&list, &x.ivan_new).as_deref(), Some("edit"));
    assert_eq!(code_in(&list, &x.petr_new).as_deref(), Some("view"));
    x.patch_order(&x.ivan, &x.ivan_closed).await.expect(200);
    x.patch_order(&x.ivan, &x.petr_closed)
        .await
        .expect_error(403, "forbidden", None);
}

/// T-R8: `create` on a rights view lets Ivan create an order that does not match it (200, not
/// 201); he cannot see it afterwards, and may edit his own orders.
#[tokio::test]
async fn r8_create_on_a_rights_view_creates_records_outside_it() {
    let x = fixture().await;
    let v = x.v_my().await;
    x.set(view_obj(&x.o, &v), vec![rule(user(&x.ivan.id), "create")])
        .await;
    let made = x.new_order(&x.ivan, &x.petr).await;
    let new = id(made.expect(200));
    x.get_record(&x.ivan, &x.o, &new)
        .await
        .expect_error(403, "forbidden", None);
    assert_eq!(
        x.listed(&x.ivan, &x.o).await,
        sorted(&[&x.ivan_new, &x.ivan_closed])
    );
    x.patch_order(&x.ivan, &x.ivan_new).await.expect(200);
    x.patch_order(&x.ivan, &new)
        .await
        .expect_error(403, "forbidden", None);
    // The administrator sees the new order, managed by Petr.
    let got =
        x.t.get(&format!("/api/v1/catalogs/{}/records/{new}", x.o))
            .await;
    assert_eq!(
        got.expect(200)["values"][x.o_manager.as_str()][0]["id"],
        x.petr.id.as_str()
    );
}

/// T-R9: a web-form account with catalog `create` may edit any order (create ⊃ edit); the
/// secure set-up (an unsatisfiable rights view with `create`) lets it only create.
#[tokio::test]
async fn r9_web_form_account_create_on_catalog_edits_all_but_on_an_empty_view_only_creates() {
    let x = fixture().await;
    let w = Emp {
        id: id(&x
            .t
            .record(
                "$users",
                json!({"$name": "Web form", "$email": "form@example.com", "$password": PASS}),
            )
            .await),
        email: "form@example.com".into(),
    };
    x.set(cat(&x.o), vec![rule(user(&w.id), "create")]).await;
    x.patch_order(&w, &x.petr_new).await.expect(200);
    x.new_order(&w, &x.petr).await.expect(200);

    x.set(cat(&x.o), vec![]).await;
    let none = x
        .rights_view(
            &x.o,
            "Nothing",
            json!([{"attr": x.o_name, "value": "no-such-order-ever"}]),
        )
        .await;
    x.set(view_obj(&x.o, &none), vec![rule(user(&w.id), "create")])
        .await;
    x.new_order(&w, &x.petr).await.expect(200);
    assert_eq!(x.listed(&w, &x.o).await, Vec::<String>::new());
    x.get_record(&w, &x.o, &x.petr_new)
        .await
        .expect_error(403, "forbidden", None);
    x.patch_order(&w, &x.petr_new)
        .await
        .expect_error(403, "forbidden", None);
}

/// T-R10: section `admin`: O shows `admin`, its records `access` (the record cap); Andrey may
/// change O's structure and create catalogs in S.
#[tokio::test]
async fn r10_section_admin_administers_catalogs_and_records_show_access() {
    let x = fixture().await;
    x.set(
        sec(&x.s),
        vec![
            rule(user(&x.admin), "admin"),
            rule(user(&x.andrey.id), "admin"),
        ],
    )
    .await;
    let a = &x.andrey;
    assert_eq!(
        x.code_of(a, &format!("/api/v1/sections/{}", x.s)).await,
        "admin"
    );
    assert_eq!(
        code_in(&x.sections_as(a).await, &x.s).as_deref(),
        Some("admin")
    );
    assert_eq!(
        x.code_of(a, &format!("/api/v1/catalogs/{}", x.o)).await,
        "admin"
    );
    assert_eq!(
        code_in(&x.catalogs_as(a).await, &x.o).as_deref(),
        Some("admin")
    );
    assert_eq!(x.record_code(a, &x.o, &x.petr_new).await, "access");
    let list = x.list_json(a, &x.o).await;
    assert_eq!(code_in(&list, &x.petr_new).as_deref(), Some("access"));
    // The bootstrap administrator's records are capped the same way.
    let got =
        x.t.get(&format!("/api/v1/catalogs/{}/records/{}", x.o, x.petr_new))
            .await;
    assert_eq!(got.expect(200)["privilegeCode"], "access");

    let o = x
        .as_(a, Method::GET, &format!("/api/v1/catalogs/{}", x.o), None)
        .await;
    let mut fields: Vec<Value> = o.expect(200)["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f.get("isDuplicated").is_none())
        .cloned()
        .collect();
    fields.push(json!({"name": "Extra", "type": "text"}));
    x.as_(
        a,
        Method::PATCH,
        &format!("/api/v1/catalogs/{}", x.o),
        Some(json!({"fields": fields})),
    )
    .await
    .expect(200);
    x.as_(
        a,
        Method::POST,
        "/api/v1/catalogs",
        Some(json!({"sectionId": x.s, "name": "Andrey's", "fields": [{"name": "Name", "type": "text"}]})),
    )
    .await
    .expect(200);
    // Without the rule Ivan may do neither.
    x.as_(
        &x.ivan,
        Method::POST,
        "/api/v1/catalogs",
        Some(json!({"sectionId": x.s, "name": "Ivan's"})),
    )
    .await
    .expect_error(403, "forbidden", None);
}

/// T-R11: an `access` holder may manage rules but not add, remove or change another
/// employee's `admin` rule; refused posts change nothing, and `admin` is not offered to him.
#[tokio::test]
async fn r11_access_holder_cannot_touch_anothers_admin_rule() {
    let x = fixture().await;
    x.set(
        cat(&x.c),
        vec![
            rule(user(&x.anna.id), "access"),
            rule(user(&x.andrey.id), "admin"),
        ],
    )
    .await;
    let q = format!("catalogId={}", x.c);
    let mine = rule(user(&x.anna.id), "access");
    let body = |rules: Vec<Value>| json!({"object": cat(&x.c), "rules": rules});
    // Removing Andrey's admin rule.
    x.refused(
        Some(&x.anna),
        body(vec![mine.clone(), rule(user(&x.ivan.id), "view")]),
        403,
        Some("forbidden"),
        &q,
    )
    .await;
    // Lowering it.
    x.refused(
        Some(&x.anna),
        body(vec![
            mine.clone(),
            rule(user(&x.andrey.id), "edit"),
            rule(user(&x.ivan.id), "view"),
        ]),
        403,
        Some("forbidden"),
        &q,
    )
    .await;
    // Adding an admin rule for someone else.
    x.refused(
        Some(&x.anna),
        body(vec![
            mine.clone(),
            rule(user(&x.andrey.id), "admin"),
            rule(user(&x.ivan.id), "admin"),
        ]),
        403,
        Some("forbidden"),
        &q,
    )
    .await;
    x.as_(
        &x.ivan,
        Method::GET,
        &format!("/api/v1/catalogs/{}/records", x.c),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);

    // Andrey's rule unchanged plus Ivan `view`: accepted.
    let r = x
        .as_(
            &x.anna,
            Method::POST,
            "/api/v1/rights",
            Some(body(vec![
                mine.clone(),
                rule(user(&x.andrey.id), "admin"),
                rule(user(&x.ivan.id), "view"),
            ])),
        )
        .await;
    let posted = r.expect(200).clone();
    assert_rules(
        entry(&posted, &cat(&x.c)),
        vec![
            direct(user(&x.anna.id), "access"),
            direct(user(&x.andrey.id), "admin"),
            direct(user(&x.ivan.id), "view"),
        ],
    );
    assert_rules(
        entry(&x.rights(&q).await, &cat(&x.c)),
        vec![
            direct(user(&x.anna.id), "access"),
            direct(user(&x.andrey.id), "admin"),
            direct(user(&x.ivan.id), "view"),
        ],
    );
    assert_eq!(
        x.listed(&x.ivan, &x.c).await,
        sorted(&[&x.alpha, &x.beta, &x.gamma, &x.delta])
    );
    // Anna is offered the codes up to `access` on C, not `admin`.
    let hers = x
        .as_(&x.anna, Method::GET, &format!("/api/v1/rights?{q}"), None)
        .await;
    let p = privileges(entry(hers.expect(200), &cat(&x.c)));
    assert!(p.contains(&"access") && !p.contains(&"admin"), "{p:?}");
    let mine = x.rights(&q).await;
    assert!(privileges(entry(&mine, &cat(&x.c))).contains(&"admin"));
}

/// T-R12: a `deny` rule on a rights view (VIP clients) for the Manager group vetoes those
/// records for the managers whatever allUsers holds; others keep them.
#[tokio::test]
async fn r12_deny_on_a_rights_view_hides_its_records_from_the_group() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(all_users(), "view")]).await;
    let vip = x
        .rights_view(
            &x.c,
            "VIP",
            json!([{"attr": x.c_category, "value": [x.vip]}]),
        )
        .await;
    x.set(
        view_obj(&x.c, &vip),
        vec![rule(x.group(&x.role_manager), "deny")],
    )
    .await;
    for e in [&x.ivan, &x.petr] {
        assert_eq!(x.listed(e, &x.c).await, sorted(&[&x.alpha, &x.gamma]));
        x.get_record(e, &x.c, &x.beta)
            .await
            .expect_error(403, "forbidden", None);
    }
    assert_eq!(
        x.listed(&x.anna, &x.c).await,
        sorted(&[&x.alpha, &x.beta, &x.gamma, &x.delta])
    );
    assert_eq!(x.record_code(&x.anna, &x.c, &x.delta).await, "view");
}

/// T-R13: section `edit` plus a rights view (Status = Closed) with `view` and no catalog rule:
/// all orders listed, closed ones read-only.
#[tokio::test]
async fn r13_section_edit_and_a_view_rule_make_closed_orders_read_only() {
    let x = fixture().await;
    x.set(
        sec(&x.s),
        vec![
            rule(user(&x.admin), "admin"),
            rule(user(&x.ivan.id), "edit"),
        ],
    )
    .await;
    let closed = x
        .rights_view(
            &x.o,
            "Closed",
            json!([{"attr": x.o_status, "value": [x.closed]}]),
        )
        .await;
    x.set(
        view_obj(&x.o, &closed),
        vec![rule(user(&x.ivan.id), "view")],
    )
    .await;
    assert_eq!(
        x.listed(&x.ivan, &x.o).await,
        sorted(&[&x.ivan_new, &x.ivan_closed, &x.petr_new, &x.petr_closed])
    );
    let list = x.list_json(&x.ivan, &x.o).await;
    for (r, code) in [
        (&x.ivan_new, "edit"),
        (&x.petr_new, "edit"),
        (&x.ivan_closed, "view"),
        (&x.petr_closed, "view"),
    ] {
        assert_eq!(code_in(&list, r).as_deref(), Some(code), "{r}: {list}");
    }
    assert_eq!(x.record_code(&x.ivan, &x.o, &x.petr_closed).await, "view");
    x.patch_order(&x.ivan, &x.petr_closed)
        .await
        .expect_error(403, "forbidden", None);
    x.patch_order(&x.ivan, &x.petr_new).await.expect(200);
}

/// T-R14: a single record rule: Ivan lists just that record, S and O show `search`, and GET
/// /rights shows his computed `search` on the ancestors only with `withSearch=true`.
#[tokio::test]
async fn r14_record_rule_shows_ancestors_as_search_and_auto_rules_only_with_search() {
    let x = fixture().await;
    x.set(rec(&x.o, &x.petr_new), vec![rule(user(&x.ivan.id), "view")])
        .await;
    assert_eq!(x.listed(&x.ivan, &x.o).await, vec![x.petr_new.clone()]);
    assert_eq!(x.record_code(&x.ivan, &x.o, &x.petr_new).await, "view");
    assert_eq!(
        code_in(&x.sections_as(&x.ivan).await, &x.s).as_deref(),
        Some("search")
    );
    let catalogs = x.catalogs_as(&x.ivan).await;
    assert_eq!(code_in(&catalogs, &x.o).as_deref(), Some("search"));
    assert_eq!(code_in(&catalogs, &x.c), None);
    assert_eq!(
        x.code_of(&x.ivan, &format!("/api/v1/catalogs/{}", x.o))
            .await,
        "search"
    );

    let q = format!("catalogId={}", x.o);
    let plain = x.rights(&q).await;
    assert_eq!(objects(&plain), vec![sec(&x.s), cat(&x.o)], "{plain}");
    assert_rules(entry(&plain, &cat(&x.o)), vec![]);
    assert_rules(
        entry(&plain, &sec(&x.s)),
        vec![direct(user(&x.admin), "admin")],
    );
    let with = x.rights(&format!("{q}&withSearch=true")).await;
    assert_eq!(objects(&with), vec![sec(&x.s), cat(&x.o)], "{with}");
    assert_rules(entry(&with, &cat(&x.o)), vec![auto(user(&x.ivan.id))]);
    assert_rules(
        entry(&with, &sec(&x.s)),
        vec![direct(user(&x.admin), "admin"), auto(user(&x.ivan.id))],
    );
    // The record's own entry holds the direct rule.
    let r = x
        .rights(&format!("catalogId={}&recordId={}", x.o, x.petr_new))
        .await;
    assert_rules(
        entry(&r, &rec(&x.o, &x.petr_new)),
        vec![direct(user(&x.ivan.id), "view")],
    );
    // Removing the record rule removes the computed ones.
    x.set(rec(&x.o, &x.petr_new), vec![]).await;
    let with = x.rights(&format!("{q}&withSearch=true")).await;
    assert_rules(entry(&with, &cat(&x.o)), vec![]);
    assert_eq!(code_in(&x.sections_as(&x.ivan).await, &x.s), None);
}

/// T-R16: a right-group rule (Role = Admin) on C: members administer C; changing an
/// employee's Role takes effect on the next request.
#[tokio::test]
async fn r16_group_membership_is_read_live_from_the_employee_card() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(x.group(&x.role_admin), "admin")])
        .await;
    let c_path = format!("/api/v1/catalogs/{}", x.c);
    assert_eq!(x.code_of(&x.andrey, &c_path).await, "admin");
    x.as_(&x.ivan, Method::GET, &c_path, None)
        .await
        .expect_error(403, "forbidden", None);
    let set_role = |who: &Emp, role: &str| {
        let path = format!("/api/v1/catalogs/$users/records/{}", who.id);
        let body = json!({"values": {x.role_field.clone(): link(&x.roles, role)}});
        let t = &x.t;
        async move { t.patch(&path, body).await.expect(200).clone() }
    };
    set_role(&x.andrey, &x.role_manager).await;
    set_role(&x.ivan, &x.role_admin).await;
    x.as_(&x.andrey, Method::GET, &c_path, None)
        .await
        .expect_error(403, "forbidden", None);
    assert_eq!(x.code_of(&x.ivan, &c_path).await, "admin");
    assert_eq!(x.record_code(&x.ivan, &x.c, &x.alpha).await, "access");
}

/// T-R17: a rights view whose City filter is the caller's own City ("CURRENT_USER.<field>"):
/// each employee sees the clients of his city.
#[tokio::test]
async fn r17_relative_link_filter_matches_the_callers_own_city() {
    let x = fixture().await;
    let same_city = x
        .rights_view(
            &x.c,
            "My city",
            json!([{"attr": x.c_city, "value": [{"catalogId": x.cities, "recordId": format!("CURRENT_USER.{}", x.city_field)}]}]),
        )
        .await;
    x.set(view_obj(&x.c, &same_city), vec![rule(all_users(), "view")])
        .await;
    assert_eq!(x.listed(&x.ivan, &x.c).await, sorted(&[&x.alpha, &x.beta]));
    assert_eq!(x.listed(&x.petr, &x.c).await, sorted(&[&x.gamma, &x.delta]));
    x.get_record(&x.ivan, &x.c, &x.gamma)
        .await
        .expect_error(403, "forbidden", None);
    // Moving Petr to Moscow moves his clients with him.
    x.t.patch(
        &format!("/api/v1/catalogs/$users/records/{}", x.petr.id),
        json!({"values": {x.city_field.clone(): link(&x.cities, &x.moscow)}}),
    )
    .await
    .expect(200);
    assert_eq!(x.listed(&x.petr, &x.c).await, sorted(&[&x.alpha, &x.beta]));
}

/// T-R18: `view` on C lets Ivan read its rules but not change them.
#[tokio::test]
async fn r18_view_holder_reads_rules_but_cannot_post_them() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.ivan.id), "view")]).await;
    let q = format!("catalogId={}", x.c);
    let r = x
        .as_(&x.ivan, Method::GET, &format!("/api/v1/rights?{q}"), None)
        .await;
    assert_eq!(objects(r.expect(200)), vec![sec(&x.s), cat(&x.c)]);
    assert_rules(
        entry(&r.json, &cat(&x.c)),
        vec![direct(user(&x.ivan.id), "view")],
    );
    for rules in [
        vec![rule(user(&x.ivan.id), "view")],
        vec![rule(user(&x.ivan.id), "edit")],
        vec![],
    ] {
        x.refused(
            Some(&x.ivan),
            json!({"object": cat(&x.c), "rules": rules}),
            403,
            Some("forbidden"),
            &q,
        )
        .await;
    }
}

/// T-R20: catalog `edit` allows a personal view (seen by its author only) but not a rights view.
#[tokio::test]
async fn r20_edit_holder_creates_personal_views_but_not_rights_views() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.ivan.id), "edit")]).await;
    let views = format!("/api/v1/catalogs/{}/views", x.c);
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .filter_map(|x| x["name"].as_str().map(str::to_string))
            .collect()
    };
    x.as_(
        &x.ivan,
        Method::POST,
        &views,
        Some(json!({"name": "Mine", "forRights": false})),
    )
    .await
    .expect(200);
    let his = x.as_(&x.ivan, Method::GET, &views, None).await;
    assert!(
        names(his.expect(200)).contains(&"Mine".to_string()),
        "{}",
        his.json
    );
    let admins = x.t.get(&views).await;
    assert!(
        !names(admins.expect(200)).contains(&"Mine".to_string()),
        "{}",
        admins.json
    );
    x.as_(
        &x.ivan,
        Method::POST,
        &views,
        Some(json!({"name": "Shared", "forRights": true})),
    )
    .await
    .expect_error(403, "forbidden", None);
    let admins = x.t.get(&views).await;
    assert!(
        !names(admins.expect(200)).contains(&"Shared".to_string()),
        "{}",
        admins.json
    );
}

// ----- the Rights API -----

/// GET /rights answers one entry per level from the section down to the object, with the
/// documented object shapes; POST answers what GET answers; `"3"` is read as `$users`; the
/// assignable codes follow the level.
#[tokio::test]
async fn rights_answer_one_entry_per_level_and_post_answers_like_get() {
    let x = fixture().await;
    let v = x
        .rights_view(
            &x.c,
            "VIP",
            json!([{"attr": x.c_category, "value": [x.vip]}]),
        )
        .await;
    let posted = x
        .set(
            cat(&x.c),
            vec![rule(
                json!({"userAttr": "id", "catalogId": "3", "recordId": x.ivan.id}),
                "view",
            )],
        )
        .await;
    let q = format!("catalogId={}", x.c);
    assert_eq!(posted, x.rights(&q).await);
    assert_eq!(objects(&posted), vec![sec(&x.s), cat(&x.c)]);
    let rs = &entry(&posted, &cat(&x.c))["rules"][0]["rightSubject"];
    assert_eq!(rs["userAttr"], "id");
    assert_eq!(rs["catalogId"], "$users");
    assert_eq!(rs["recordId"], x.ivan.id.as_str());

    let vq = format!("catalogId={}&viewId={v}", x.c);
    let posted = x
        .set(
            view_obj(&x.c, &v),
            vec![rule(x.group(&x.role_manager), "edit")],
        )
        .await;
    assert_eq!(posted, x.rights(&vq).await);
    assert_eq!(
        objects(&posted),
        vec![sec(&x.s), cat(&x.c), view_obj(&x.c, &v)]
    );
    assert_rules(
        entry(&posted, &view_obj(&x.c, &v)),
        vec![direct(x.group(&x.role_manager), "edit")],
    );

    let rq = format!("catalogId={}&recordId={}", x.c, x.alpha);
    let posted = x
        .set(rec(&x.c, &x.alpha), vec![rule(user(&x.anna.id), "delete")])
        .await;
    assert_eq!(posted, x.rights(&rq).await);
    assert_eq!(
        objects(&posted),
        vec![sec(&x.s), cat(&x.c), rec(&x.c, &x.alpha)]
    );
    assert_rules(
        entry(&posted, &rec(&x.c, &x.alpha)),
        vec![direct(user(&x.anna.id), "delete")],
    );

    let sq = format!("sectionId={}", x.s);
    let got = x.rights(&sq).await;
    assert_eq!(objects(&got), vec![sec(&x.s)]);
    assert_rules(&got[0], vec![direct(user(&x.admin), "admin")]);

    // Without withSearch no computed rule shows anywhere.
    for q in [&sq, &q, &vq, &rq] {
        for e in x.rights(q).await.as_array().expect("array") {
            assert!(shown(e).iter().all(|r| r["type"] == "direct"), "{q}: {e}");
        }
    }
    // With it, each subject with a rule below and none on the object gets `search` there.
    let with = x.rights(&format!("{q}&withSearch=true")).await;
    assert_rules(
        entry(&with, &sec(&x.s)),
        vec![
            direct(user(&x.admin), "admin"),
            auto(user(&x.ivan.id)),
            auto(x.group(&x.role_manager)),
            auto(user(&x.anna.id)),
        ],
    );
    assert_rules(
        entry(&with, &cat(&x.c)),
        vec![
            direct(user(&x.ivan.id), "view"),
            auto(x.group(&x.role_manager)),
            auto(user(&x.anna.id)),
        ],
    );

    // Assignable codes by level, for the administrator.
    let s_p = privileges(&got[0]);
    for code in ["admin", "access", "view", "search", "available"] {
        assert!(s_p.contains(&code), "section offers {code}: {s_p:?}");
    }
    let views = x.rights(&vq).await;
    let v_p = privileges(entry(&views, &view_obj(&x.c, &v)));
    for code in [
        "view", "edit", "create", "export", "delete", "access", "deny",
    ] {
        assert!(v_p.contains(&code), "view offers {code}: {v_p:?}");
    }
    for code in ["admin", "search", "available"] {
        assert!(!v_p.contains(&code), "view does not offer {code}: {v_p:?}");
    }
    let recs = x.rights(&rq).await;
    let r_p = privileges(entry(&recs, &rec(&x.c, &x.alpha)));
    for code in ["view", "edit", "delete", "access", "deny"] {
        assert!(r_p.contains(&code), "record offers {code}: {r_p:?}");
    }
    for code in ["admin", "create", "export", "search", "available"] {
        assert!(
            !r_p.contains(&code),
            "record does not offer {code}: {r_p:?}"
        );
    }
}

/// POST /rights replaces every direct rule of the object; an empty list removes them all.
#[tokio::test]
async fn rights_post_replaces_all_direct_rules_of_the_object() {
    let x = fixture().await;
    x.set(
        cat(&x.c),
        vec![
            rule(user(&x.ivan.id), "view"),
            rule(user(&x.anna.id), "edit"),
            rule(x.group(&x.role_manager), "delete"),
        ],
    )
    .await;
    let q = format!("catalogId={}", x.c);
    assert_rules(
        entry(&x.rights(&q).await, &cat(&x.c)),
        vec![
            direct(user(&x.ivan.id), "view"),
            direct(user(&x.anna.id), "edit"),
            direct(x.group(&x.role_manager), "delete"),
        ],
    );
    let posted = x.set(cat(&x.c), vec![rule(user(&x.ivan.id), "edit")]).await;
    assert_rules(
        entry(&posted, &cat(&x.c)),
        vec![direct(user(&x.ivan.id), "edit")],
    );
    assert_eq!(x.record_code(&x.ivan, &x.c, &x.alpha).await, "edit");
    x.as_(
        &x.anna,
        Method::GET,
        &format!("/api/v1/catalogs/{}", x.c),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);
    let posted = x.set(cat(&x.c), vec![]).await;
    assert_rules(entry(&posted, &cat(&x.c)), vec![]);
    assert_rules(entry(&x.rights(&q).await, &cat(&x.c)), vec![]);
    x.as_(
        &x.ivan,
        Method::GET,
        &format!("/api/v1/catalogs/{}", x.c),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);
    // The section's rules were not touched.
    assert_rules(
        entry(&x.rights(&q).await, &sec(&x.s)),
        vec![direct(user(&x.admin), "admin")],
    );
}

#[tokio::test]
async fn rights_post_with_an_unknown_privilege_code_is_invalid_privilege() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.anna.id), "edit")]).await;
    let q = format!("catalogId={}", x.c);
    for code in ["superuser", "read", "owner"] {
        x.refused(
            None,
            json!({"object": cat(&x.c), "rules": [rule(user(&x.ivan.id), "view"), rule(user(&x.petr.id), code)]}),
            400,
            Some("invalid_privilege"),
            &q,
        )
        .await;
    }
}

#[tokio::test]
async fn rights_post_with_a_code_not_assignable_at_the_level_is_invalid_privilege() {
    let x = fixture().await;
    let v = x
        .rights_view(
            &x.c,
            "VIP",
            json!([{"attr": x.c_category, "value": [x.vip]}]),
        )
        .await;
    x.set(view_obj(&x.c, &v), vec![rule(user(&x.anna.id), "view")])
        .await;
    x.set(rec(&x.c, &x.alpha), vec![rule(user(&x.anna.id), "view")])
        .await;
    let vq = format!("catalogId={}&viewId={v}", x.c);
    for code in ["admin", "available", "search"] {
        x.refused(
            None,
            json!({"object": view_obj(&x.c, &v), "rules": [rule(user(&x.anna.id), "edit"), rule(user(&x.ivan.id), code)]}),
            400,
            Some("invalid_privilege"),
            &vq,
        )
        .await;
    }
    let rq = format!("catalogId={}&recordId={}", x.c, x.alpha);
    for code in ["admin", "available", "search", "create", "export"] {
        x.refused(
            None,
            json!({"object": rec(&x.c, &x.alpha), "rules": [rule(user(&x.anna.id), "edit"), rule(user(&x.ivan.id), code)]}),
            400,
            Some("invalid_privilege"),
            &rq,
        )
        .await;
    }
    // The same codes are fine where they belong.
    x.set(
        cat(&x.c),
        vec![
            rule(user(&x.ivan.id), "available"),
            rule(user(&x.petr.id), "search"),
            rule(user(&x.anna.id), "export"),
            rule(user(&x.andrey.id), "admin"),
        ],
    )
    .await;
    x.set(view_obj(&x.c, &v), vec![rule(user(&x.ivan.id), "create")])
        .await;
}

#[tokio::test]
async fn rights_post_with_a_bad_group_subject_is_invalid_subject() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.anna.id), "edit")]).await;
    let q = format!("catalogId={}", x.c);
    let orders = x.t.get(&format!("/api/v1/catalogs/{}", x.o)).await;
    let o_client = field_id(orders.expect(200), "Client");
    for subject in [
        // A text field of $users, not a link field.
        json!({"userAttr": "$name", "catalogId": x.roles, "recordId": x.role_admin}),
        // The Role field with a catalog it does not link to.
        json!({"userAttr": x.role_field, "catalogId": x.cities, "recordId": x.moscow}),
        // A field that does not exist.
        json!({"userAttr": "999999", "catalogId": x.roles, "recordId": x.role_admin}),
        // A link field of another catalog.
        json!({"userAttr": o_client, "catalogId": x.c, "recordId": x.alpha}),
    ] {
        x.refused(
            None,
            json!({"object": cat(&x.c), "rules": [rule(user(&x.ivan.id), "view"), rule(subject, "view")]}),
            400,
            Some("invalid_subject"),
            &q,
        )
        .await;
    }
}

#[tokio::test]
async fn rights_post_naming_an_unknown_subject_record_is_invalid_subject() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.anna.id), "edit")]).await;
    let q = format!("catalogId={}", x.c);
    for subject in [
        user("999999"),
        json!({"userAttr": x.role_field, "catalogId": x.roles, "recordId": "999999"}),
    ] {
        x.refused(
            None,
            json!({"object": cat(&x.c), "rules": [rule(user(&x.ivan.id), "view"), rule(subject, "view")]}),
            400,
            Some("invalid_subject"),
            &q,
        )
        .await;
    }
}

#[tokio::test]
async fn rights_post_with_the_same_subject_twice_is_duplicate_subject() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.anna.id), "edit")]).await;
    let q = format!("catalogId={}", x.c);
    for rules in [
        vec![
            rule(user(&x.ivan.id), "view"),
            rule(user(&x.ivan.id), "edit"),
        ],
        vec![rule(all_users(), "view"), rule(all_users(), "view")],
        vec![
            rule(x.group(&x.role_manager), "view"),
            rule(x.group(&x.role_manager), "delete"),
        ],
        // "3" and "$users" name the same employee catalog.
        vec![
            rule(
                json!({"userAttr": "id", "catalogId": "3", "recordId": x.ivan.id}),
                "view",
            ),
            rule(user(&x.ivan.id), "edit"),
        ],
    ] {
        x.refused(
            None,
            json!({"object": cat(&x.c), "rules": rules}),
            400,
            Some("duplicate_subject"),
            &q,
        )
        .await;
    }
    // Two groups of the same field are two subjects.
    x.set(
        cat(&x.c),
        vec![
            rule(x.group(&x.role_manager), "view"),
            rule(x.group(&x.role_admin), "edit"),
        ],
    )
    .await;
}

/// System section ids are text only in the Rights API: the legacy number of `$settings` is
/// not a section.
#[tokio::test]
async fn rights_post_on_a_legacy_numeric_section_id_is_section_not_found() {
    let x = fixture().await;
    x.refused(
        None,
        json!({"object": {"sectionId": "1"}, "rules": [rule(user(&x.ivan.id), "admin")]}),
        400,
        Some("section_not_found"),
        "sectionId=$settings",
    )
    .await;
    assert_eq!(code_in(&x.sections_as(&x.ivan).await, "$settings"), None);
}

#[tokio::test]
async fn rights_post_with_a_malformed_body_is_400() {
    let x = fixture().await;
    let q = format!("sectionId={}", x.s);
    for body in [
        json!([]),
        json!("rules"),
        json!({"object": sec(&x.s), "rules": {}}),
        json!({"object": sec(&x.s), "rules": "none"}),
        json!({"object": sec(&x.s), "rules": [rule(user(&x.ivan.id), "view"), "view"]}),
        json!({"object": x.s, "rules": []}),
    ] {
        x.refused(None, body, 400, None, &q).await;
    }
    let before = x.rights(&q).await;
    let r =
        x.t.raw(
            Method::POST,
            "/api/v1/rights",
            Some(("application/json", b"{\"object\": {".to_vec())),
            true,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.json);
    assert_eq!(x.rights(&q).await, before);
}

#[tokio::test]
async fn rights_get_of_an_unknown_object_is_404() {
    let x = fixture().await;
    let cases = [
        ("sectionId=999999".to_string(), "section_not_found"),
        ("sectionId=1".to_string(), "section_not_found"),
        ("catalogId=999999".to_string(), "catalog_not_found"),
        (
            format!("catalogId={}&recordId=999999", x.c),
            "record_not_found",
        ),
        (format!("catalogId={}&viewId=999999", x.c), "view_not_found"),
    ];
    for (q, code) in cases {
        x.t.get(&format!("/api/v1/rights?{q}"))
            .await
            .expect_error(404, code, None);
    }
}

// ----- field rights (spec 04 §1.8, T-F1 … T-F7) -----

fn with_fields(subject: Value, code: &str, fields: Value) -> Value {
    json!({"rightSubject": subject, "privilegeCode": code, "fields": fields})
}

impl Fx {
    /// `e` writes `values` to order `r`.
    async fn patch_values(&self, e: &Emp, r: &str, values: Value) -> Resp {
        self.as_(
            e,
            Method::PATCH,
            &format!("/api/v1/catalogs/{}/records/{r}", self.o),
            Some(json!({ "values": values })),
        )
        .await
    }

    async fn close(&self, e: &Emp, r: &str) -> Resp {
        self.patch_values(e, r, json!({self.o_status.clone(): [self.closed]}))
            .await
    }

    /// The rights view of closed orders.
    async fn v_closed(&self) -> String {
        self.rights_view(
            &self.o,
            "Closed",
            json!([{"attr": self.o_status, "value": [self.closed]}]),
        )
        .await
    }
}

/// T-F1: a restricting rule for a group: a read-only field refuses writes, a hidden one leaves
/// values, filters, history and the catalog's `fieldPrivilegeCodes` tells both.
#[tokio::test]
async fn f1_read_only_and_hidden_fields_of_a_group_rule() {
    let x = fixture().await;
    x.set(
        cat(&x.o),
        vec![with_fields(
            x.group(&x.role_manager),
            "edit",
            json!({x.o_manager.clone(): "view", x.o_comment.clone(): "hide"}),
        )],
    )
    .await;
    // The administrator writes a comment; Ivan never sees it.
    x.t.patch(
        &format!("/api/v1/catalogs/{}/records/{}", x.o, x.ivan_new),
        json!({"values": {x.o_comment.clone(): "secret note"}}),
    )
    .await
    .expect(200);
    x.close(&x.ivan, &x.ivan_new).await.expect(200);
    x.patch_values(
        &x.ivan,
        &x.ivan_new,
        json!({x.o_manager.clone(): [{"id": x.petr.id}]}),
    )
    .await
    .expect_error(403, "forbidden", Some(&x.o_manager));
    x.patch_order(&x.ivan, &x.ivan_new)
        .await
        .expect_error(403, "forbidden", Some(&x.o_comment));
    let got = x.get_record(&x.ivan, &x.o, &x.ivan_new).await;
    let values = got.expect(200)["values"]
        .as_object()
        .expect("values")
        .clone();
    assert!(!values.contains_key(&x.o_comment), "{values:?}");
    assert!(values.contains_key(&x.o_manager));
    for item in x.list_json(&x.ivan, &x.o).await.as_array().expect("list") {
        assert!(item["values"].get(&x.o_comment).is_none(), "{item}");
    }
    // The administrator still sees everything.
    let admin =
        x.t.get(&format!("/api/v1/catalogs/{}/records/{}", x.o, x.ivan_new))
            .await;
    assert_eq!(admin.expect(200)["values"][&x.o_comment], "secret note");
    // Filtering or sorting by the hidden field is refused.
    let q = format!(
        "/api/v1/catalogs/{}/records?filters={}",
        x.o,
        json!([{"fieldId": x.o_comment, "value": "secret"}])
    );
    x.as_(&x.ivan, Method::GET, &q, None)
        .await
        .expect_error(403, "forbidden", Some(&x.o_comment));
    x.as_(
        &x.ivan,
        Method::GET,
        &format!("/api/v1/catalogs/{}/records?sortField={}", x.o, x.o_comment),
        None,
    )
    .await
    .expect_error(403, "forbidden", Some(&x.o_comment));
    // History: the comment's entry is gone for Ivan, the status change is there.
    let path = format!(
        "/api/v1/histories?catalogId={}&recordId={}",
        x.o, x.ivan_new
    );
    let mine = x.as_(&x.ivan, Method::GET, &path, None).await;
    let list = mine.expect(200).as_array().expect("history").clone();
    assert!(!list.is_empty());
    for e in &list {
        assert!(e["payload"].get(&x.o_comment).is_none(), "{e}");
    }
    assert!(list.iter().any(|e| e["payload"].get(&x.o_status).is_some()));
    let all = x.t.get(&path).await;
    assert!(all
        .expect(200)
        .as_array()
        .expect("history")
        .iter()
        .any(|e| e["payload"].get(&x.o_comment).is_some()));
    // The catalog tells which fields differ from what `edit` implies.
    let o = x
        .as_(
            &x.ivan,
            Method::GET,
            &format!("/api/v1/catalogs/{}", x.o),
            None,
        )
        .await;
    assert_eq!(o.expect(200)["privilegeCode"], "edit");
    assert_eq!(
        o.json["fieldPrivilegeCodes"],
        json!({x.o_manager.clone(): "view", x.o_comment.clone(): "hide"})
    );
    let listed = x.catalogs_as(&x.ivan).await;
    let mine = listed
        .as_array()
        .expect("catalogs")
        .iter()
        .find(|c| c["id"] == x.o.as_str())
        .expect("O listed")
        .clone();
    assert_eq!(mine["fieldPrivilegeCodes"], o.json["fieldPrivilegeCodes"]);
}

/// T-F2: an extending field right on a `view` rule: that field alone may be written.
#[tokio::test]
async fn f2_an_extending_edit_field_on_a_view_rule() {
    let x = fixture().await;
    x.set(
        cat(&x.o),
        vec![with_fields(
            user(&x.ivan.id),
            "view",
            json!({x.o_status.clone(): "edit"}),
        )],
    )
    .await;
    x.close(&x.ivan, &x.petr_new).await.expect(200);
    x.patch_order(&x.ivan, &x.petr_new)
        .await
        .expect_error(403, "forbidden", Some(&x.o_comment));
    // An update that names no field needs `edit` on the record.
    x.patch_values(&x.ivan, &x.petr_new, json!({}))
        .await
        .expect_error(403, "forbidden", None);
    let o = x
        .as_(
            &x.ivan,
            Method::GET,
            &format!("/api/v1/catalogs/{}", x.o),
            None,
        )
        .await;
    assert_eq!(o.expect(200)["privilegeCode"], "view");
    assert_eq!(
        o.json["fieldPrivilegeCodes"],
        json!({x.o_status.clone(): "edit"})
    );
}

/// T-F3: across subjects a rule without restrictions beats one with them.
#[tokio::test]
async fn f3_an_unrestricted_rule_of_another_subject_wins() {
    let x = fixture().await;
    x.set(
        cat(&x.o),
        vec![
            rule(all_users(), "edit"),
            with_fields(
                x.group(&x.role_manager),
                "edit",
                json!({x.o_comment.clone(): "view"}),
            ),
        ],
    )
    .await;
    x.patch_order(&x.ivan, &x.ivan_new).await.expect(200);
}

/// T-F4: a rights view rule restricting a field makes it read-only in the view's records
/// only.
#[tokio::test]
async fn f4_a_view_rule_restricts_a_field_inside_the_view() {
    let x = fixture().await;
    x.set(cat(&x.o), vec![rule(x.group(&x.role_manager), "edit")])
        .await;
    let closed = x.v_closed().await;
    x.set(
        view_obj(&x.o, &closed),
        vec![with_fields(
            x.group(&x.role_manager),
            "edit",
            json!({x.o_comment.clone(): "view"}),
        )],
    )
    .await;
    x.patch_order(&x.ivan, &x.ivan_closed)
        .await
        .expect_error(403, "forbidden", Some(&x.o_comment));
    x.patch_order(&x.ivan, &x.ivan_new).await.expect(200);
}

/// T-F5: within one subject a deeper (view) setting re-enables a field the catalog rule
/// restricts.
#[tokio::test]
async fn f5_a_view_rule_re_enables_a_field_of_the_catalog_rule() {
    let x = fixture().await;
    x.set(
        cat(&x.o),
        vec![with_fields(
            x.group(&x.role_manager),
            "edit",
            json!({x.o_comment.clone(): "view"}),
        )],
    )
    .await;
    let closed = x.v_closed().await;
    x.set(
        view_obj(&x.o, &closed),
        vec![with_fields(
            x.group(&x.role_manager),
            "edit",
            json!({x.o_comment.clone(): "edit"}),
        )],
    )
    .await;
    x.patch_order(&x.ivan, &x.ivan_closed).await.expect(200);
    x.patch_order(&x.ivan, &x.ivan_new)
        .await
        .expect_error(403, "forbidden", Some(&x.o_comment));
}

/// T-F6, the quick-start: `search` on the catalog hiding Comment, and `edit` on "my orders"
/// with Client and Manager read-only.
#[tokio::test]
async fn f6_quick_start_search_rule_with_a_hidden_field_and_my_orders() {
    let x = fixture().await;
    x.set(
        cat(&x.o),
        vec![with_fields(
            user(&x.ivan.id),
            "search",
            json!({x.o_comment.clone(): "hide"}),
        )],
    )
    .await;
    let v_my = x.v_my().await;
    let client_field = field_id(
        &x.t.get(&format!("/api/v1/catalogs/{}", x.o)).await.json,
        "Client",
    );
    x.set(
        view_obj(&x.o, &v_my),
        vec![with_fields(
            user(&x.ivan.id),
            "edit",
            json!({client_field.clone(): "view", x.o_manager.clone(): "view"}),
        )],
    )
    .await;
    assert_eq!(
        x.listed(&x.ivan, &x.o).await,
        sorted(&[&x.ivan_new, &x.ivan_closed])
    );
    x.close(&x.ivan, &x.ivan_new).await.expect(200);
    x.patch_values(
        &x.ivan,
        &x.ivan_new,
        json!({client_field.clone(): link(&x.c, &x.gamma)}),
    )
    .await
    .expect_error(403, "forbidden", Some(&client_field));
    x.patch_values(
        &x.ivan,
        &x.ivan_new,
        json!({x.o_manager.clone(): [{"id": x.petr.id}]}),
    )
    .await
    .expect_error(403, "forbidden", Some(&x.o_manager));
    // Comment stays hidden: the catalog-level `hide` applies, the view does not mention it.
    x.patch_order(&x.ivan, &x.ivan_new)
        .await
        .expect_error(403, "forbidden", Some(&x.o_comment));
    let got = x.get_record(&x.ivan, &x.o, &x.ivan_new).await;
    assert!(got.expect(200)["values"].get(&x.o_comment).is_none());
    x.get_record(&x.ivan, &x.o, &x.petr_new)
        .await
        .expect_error(403, "forbidden", None);
}

/// T-F7: `required` applies whatever the field rights: a hidden required field fails the
/// create with 400, and writing it is refused.
#[tokio::test]
async fn f7_a_hidden_required_field_still_fails_the_create() {
    let x = fixture().await;
    let deals = catalog_in(
        &x.t,
        &x.s,
        "Deals",
        json!([
            {"name": "Name", "type": "text"},
            {"name": "Budget", "type": "number", "required": true}
        ]),
    )
    .await;
    let d = id(&deals);
    let (name, budget) = (field_id(&deals, "Name"), field_id(&deals, "Budget"));
    x.set(
        cat(&d),
        vec![with_fields(
            user(&x.ivan.id),
            "create",
            json!({budget.clone(): "hide"}),
        )],
    )
    .await;
    let path = format!("/api/v1/catalogs/{d}/records");
    x.as_(
        &x.ivan,
        Method::POST,
        &path,
        Some(json!({"values": {name.clone(): "Deal"}})),
    )
    .await
    .expect_error(400, "required_field", Some(&budget));
    x.as_(
        &x.ivan,
        Method::POST,
        &path,
        Some(json!({"values": {name.clone(): "Deal", budget.clone(): 5}})),
    )
    .await
    .expect_error(403, "forbidden", Some(&budget));
    // Nothing was written.
    let all = x.t.get(&path).await;
    assert_eq!(all.expect(200).as_array().map(Vec::len), Some(0));
}

/// Field rights are refused where the spec forbids them, with nothing written.
#[tokio::test]
async fn field_rights_on_available_deny_section_or_unknown_fields_are_400() {
    let x = fixture().await;
    let q = format!("catalogId={}", x.o);
    for (object, r) in [
        (
            cat(&x.o),
            with_fields(
                user(&x.ivan.id),
                "available",
                json!({x.o_comment.clone(): "hide"}),
            ),
        ),
        (
            cat(&x.o),
            with_fields(
                user(&x.ivan.id),
                "deny",
                json!({x.o_comment.clone(): "hide"}),
            ),
        ),
        (
            cat(&x.o),
            with_fields(user(&x.ivan.id), "edit", json!({"999": "hide"})),
        ),
        (
            cat(&x.o),
            with_fields(
                user(&x.ivan.id),
                "edit",
                json!({x.o_comment.clone(): "write"}),
            ),
        ),
    ] {
        x.refused(
            None,
            json!({"object": object, "rules": [r]}),
            400,
            Some("invalid_field_rights"),
            &q,
        )
        .await;
    }
    x.refused(
        None,
        json!({"object": sec(&x.s), "rules": [rule(user(&x.admin), "admin"), with_fields(user(&x.ivan.id), "edit", json!({x.o_comment.clone(): "hide"}))]}),
        400,
        Some("invalid_field_rights"),
        &format!("sectionId={}", x.s),
    )
    .await;
    // Accepted ones come back under public field ids.
    let back = x
        .set(
            cat(&x.o),
            vec![with_fields(
                user(&x.ivan.id),
                "edit",
                json!({x.o_comment.clone(): "hide"}),
            )],
        )
        .await;
    let e = entry(&back, &cat(&x.o));
    assert_eq!(
        e["rules"][0]["fields"],
        json!({x.o_comment.clone(): "hide"})
    );
}

// ----- every read path -----

/// An employee without any rule gets 403 or nothing from every read endpoint; the
/// administrator gets the data.
#[tokio::test]
async fn an_employee_without_rights_reads_nothing_anywhere() {
    let x = fixture().await;
    let (c, o, a) = (&x.c, &x.o, &x.alpha);
    let client_field = field_id(
        &x.t.get(&format!("/api/v1/catalogs/{o}")).await.json,
        "Client",
    );
    let forbidden = [
        format!("/api/v1/catalogs/{c}"),
        format!("/api/v1/catalogs/{c}/records"),
        format!("/api/v1/catalogs/{c}/records?searchText=Alpha"),
        format!("/api/v1/catalogs/{c}/records?id={a}"),
        format!("/api/v1/catalogs/{c}/records/{a}"),
        format!("/api/v1/catalogs/{c}/totals?value[type]=recordsCount"),
        format!(
            "/api/v1/catalogs/{c}/values?value[type]=recordsCount&axis[type]=field&axis[value]={}",
            x.c_category
        ),
        format!("/api/v1/histories?catalogId={c}"),
        format!("/api/v1/histories?catalogId={c}&recordId={a}"),
        format!("/api/v1/catalogs/{c}/records/{a}/relations"),
        format!("/api/v1/catalogs/{c}/records/{a}/messages"),
        format!("/api/v1/catalogs/{o}/fields/{client_field}/availableRecords"),
        format!("/api/v1/catalogs/{o}/fields/{client_field}/availableFilterRecords"),
        format!("/api/v1/catalogs/{c}/views"),
        format!("/api/v1/rights?catalogId={c}"),
        format!("/api/v1/sections/{}", x.s),
    ];
    for path in &forbidden {
        let r = x.as_(&x.ivan, Method::GET, path, None).await;
        assert_eq!(r.status, 403, "{path}: {}", r.json);
        // The administrator reads the same path.
        let admin = x.t.get(path).await;
        assert_eq!(admin.status, 200, "{path}: {}", admin.json);
    }
    let sections = x.sections_as(&x.ivan).await;
    assert!(!sections
        .as_array()
        .expect("sections")
        .iter()
        .any(|s| s["id"] == x.s.as_str()));
    let catalogs = x.catalogs_as(&x.ivan).await;
    for id in [c, o] {
        assert!(!catalogs
            .as_array()
            .expect("catalogs")
            .iter()
            .any(|x| x["id"] == id.as_str()));
    }
}

/// Aggregates, history and relations of an employee who reaches orders only through "my
/// orders" count and show his records alone.
#[tokio::test]
async fn aggregates_and_history_follow_a_rights_view() {
    let x = fixture().await;
    let v_my = x.v_my().await;
    x.set(view_obj(&x.o, &v_my), vec![rule(user(&x.ivan.id), "view")])
        .await;
    let totals = format!("/api/v1/catalogs/{}/totals?value[type]=recordsCount", x.o);
    let count = |v: &Value| {
        v.as_array()
            .and_then(|a| a.iter().find(|e| e["key"] == "count"))
            .map(|e| e["value"].clone())
    };
    let mine = x.as_(&x.ivan, Method::GET, &totals, None).await;
    assert_eq!(count(mine.expect(200)), Some(json!(2)), "{}", mine.json);
    let all = x.t.get(&totals).await;
    assert_eq!(count(all.expect(200)), Some(json!(4)));
    // Every record counted needs `view` on the catalog.
    x.as_(
        &x.ivan,
        Method::GET,
        &format!("{totals}&recordsType=all"),
        None,
    )
    .await
    .expect_error(403, "forbidden", None);
    // The catalog's history lists his orders only.
    let h = x
        .as_(
            &x.ivan,
            Method::GET,
            &format!("/api/v1/histories?catalogId={}", x.o),
            None,
        )
        .await;
    let ids: Vec<String> = h
        .expect(200)
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["recordId"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!ids.is_empty());
    for id in &ids {
        assert!(
            *id == x.ivan_new || *id == x.ivan_closed,
            "{id} is not Ivan's: {ids:?}"
        );
    }
    // Paging counts his entries only: the newest entry of all is Petr's, his first page of
    // one still holds one of his own.
    let page = x
        .as_(
            &x.ivan,
            Method::GET,
            &format!("/api/v1/histories?catalogId={}&limit=1", x.o),
            None,
        )
        .await;
    let page = page.expect(200).as_array().expect("history").clone();
    assert_eq!(page.len(), 1, "{page:?}");
    assert!(
        page[0]["recordId"] == x.ivan_new.as_str() || page[0]["recordId"] == x.ivan_closed.as_str()
    );
    // His own order's history and chat are open; Petr's are not.
    for (r, status) in [(&x.ivan_new, 200), (&x.petr_new, 403)] {
        for path in [
            format!("/api/v1/histories?catalogId={}&recordId={r}", x.o),
            format!("/api/v1/catalogs/{}/records/{r}/messages", x.o),
        ] {
            let got = x.as_(&x.ivan, Method::GET, &path, None).await;
            assert_eq!(got.status, status, "{path}: {}", got.json);
        }
    }
}

/// An employee who reaches a catalog only through a rights view may filter and sort by its
/// fields, and no field differs from what his catalog code implies.
#[tokio::test]
async fn a_rights_view_reader_filters_and_sorts_by_visible_fields() {
    let x = fixture().await;
    let v_my = x.v_my().await;
    x.set(view_obj(&x.o, &v_my), vec![rule(user(&x.ivan.id), "view")])
        .await;
    let q = format!(
        "/api/v1/catalogs/{}/records?sortField={}&filters={}",
        x.o,
        x.o_name,
        json!([{"fieldId": x.o_status, "value": [x.closed]}])
    );
    let r = x.as_(&x.ivan, Method::GET, &q, None).await;
    let ids: Vec<String> = r
        .expect(200)
        .as_array()
        .expect("list")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, vec![x.ivan_closed.clone()]);
    let o = x
        .as_(
            &x.ivan,
            Method::GET,
            &format!("/api/v1/catalogs/{}", x.o),
            None,
        )
        .await;
    assert_eq!(o.expect(200)["privilegeCode"], "search");
    assert_eq!(o.json["fieldPrivilegeCodes"], json!({}));
}

/// The Rights.Get example of the 2.0 upgrade page: the rights of `$users` (legacy `3`) in
/// `$settings`, with system ids in text form and the subject's display attributes.
#[tokio::test]
async fn rights_of_users_answer_as_the_2_0_upgrade_page_shows() {
    let t = TestApp::start().await;
    let admin = admin_record_id(&t).await;
    let a = t
        .get("/api/v1/rights?sectionId=$settings&catalogId=$users")
        .await
        .expect(200)
        .clone();
    let b = t
        .get("/api/v1/rights?sectionId=$settings&catalogId=3")
        .await
        .expect(200)
        .clone();
    assert_eq!(a, b, "the legacy catalog id answers the same");
    let section = &a[0];
    assert_eq!(section["object"], json!({"sectionId": "$settings"}));
    let rules = section["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 1, "{section}");
    let r = &rules[0];
    assert!(r["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert_eq!(r["type"], "direct");
    assert_eq!(r["privilegeCode"], "admin");
    assert_eq!(r["fields"], json!({}));
    assert_eq!(
        r["rightSubject"],
        json!({
            "catalogId": "$users",
            "catalogDbId": 3,
            "catalogIcon": "users-1",
            "recordId": admin,
            "recordDbId": admin.parse::<i64>().expect("numeric id"),
            "recordTitle": "Administrator",
            "userAttr": "id",
            "userAttrTitle": ""
        })
    );
    assert_eq!(
        section["privileges"],
        json!([
            "admin",
            "access",
            "delete",
            "export",
            "create",
            "edit",
            "view",
            "search",
            "available"
        ])
    );
    assert_eq!(a[1]["object"], json!({"catalogId": "$users"}));
    assert_eq!(a[1]["rules"], json!([]));
    // System sections answer to their text id only.
    t.get("/api/v1/rights?sectionId=1")
        .await
        .expect_error(404, "section_not_found", None);
    // A system field of `$users` names a group by its text id only.
    let r = t
        .post(
            "/api/v1/rights",
            json!({"object": {"catalogId": "$users"}, "rules": [
                {"rightSubject": {"userAttr": "1", "catalogId": "$users", "recordId": admin}, "privilegeCode": "view"}
            ]}),
        )
        .await;
    r.expect_error(400, "invalid_subject", None);
}

/// `recordValues` of linked records follow the caller's rights on the linked catalog: a
/// hidden field is left out, and a catalog the caller may not see whole gives nothing.
#[tokio::test]
async fn linked_record_values_follow_the_rights_on_the_linked_catalog() {
    let x = fixture().await;
    let client_field = field_id(
        &x.t.get(&format!("/api/v1/catalogs/{}", x.o)).await.json,
        "Client",
    );
    let fields = json!([x.o_name, {"fieldId": client_field, "fields": {x.c.clone(): [x.c_name, x.c_category]}}]);
    let path = format!(
        "/api/v1/catalogs/{}/records/{}?fields={}",
        x.o,
        x.ivan_new,
        enc(&fields.to_string())
    );
    let linked = |v: &Value| v["values"][&client_field][0]["recordValues"].clone();
    x.set(cat(&x.o), vec![rule(user(&x.ivan.id), "view")]).await;
    // No right on Clients: the link is shown, its values are not.
    let r = x.as_(&x.ivan, Method::GET, &path, None).await;
    assert_eq!(linked(r.expect(200)), json!({}));
    // Clients visible with Category hidden.
    x.set(
        cat(&x.c),
        vec![with_fields(
            user(&x.ivan.id),
            "view",
            json!({x.c_category.clone(): "hide"}),
        )],
    )
    .await;
    let r = x.as_(&x.ivan, Method::GET, &path, None).await;
    assert_eq!(linked(r.expect(200)), json!({x.c_name.clone(): "Alpha"}));
    // The administrator sees both.
    let r = x.t.get(&path).await;
    let all = linked(r.expect(200));
    assert_eq!(all[&x.c_name], "Alpha");
    assert!(all.get(&x.c_category).is_some(), "{all}");
}

/// A record's files download for whoever may see the record, through a rights view too;
/// the files of other records stay closed.
#[tokio::test]
async fn files_follow_their_record() {
    let x = fixture().await;
    let docs = catalog_in(
        &x.t,
        &x.s,
        "Docs",
        json!([
            {"name": "Title", "type": "text"},
            {"name": "Owner", "type": "user"},
            {"name": "File", "type": "file"}
        ]),
    )
    .await;
    let d = id(&docs);
    let (title, owner, file) = (
        field_id(&docs, "Title"),
        field_id(&docs, "Owner"),
        field_id(&docs, "File"),
    );
    let mut fids = Vec::new();
    for who in [&x.ivan, &x.petr] {
        let body = format!("for {}", who.email).into_bytes();
        let ticket = x
            .t
            .post("/api/v1/files", json!({"catalogId": d, "fieldId": file, "name": "a.txt", "size": body.len(), "mimeType": "text/plain", "typeStorage": "remoteStorage"}))
            .await;
        let ticket = ticket.expect(200).clone();
        assert_eq!(crate::files::send_bytes(&ticket, body, None).await, 204);
        let fid = ticket["fileId"].as_i64().expect("file id");
        x.t.patch(&format!("/api/v1/files/{fid}"), json!({}))
            .await
            .expect(200);
        x.t.record(
            &d,
            json!({title.clone(): "doc", owner.clone(): [{"id": who.id}], file.clone(): [{"id": fid.to_string()}]}),
        )
        .await;
        fids.push(fid);
    }
    let mine = x
        .rights_view(
            &d,
            "My docs",
            json!([{"attr": owner, "value": ["CURRENT_USER"]}]),
        )
        .await;
    x.set(view_obj(&d, &mine), vec![rule(all_users(), "view")])
        .await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let status = |fid: i64| {
        let req = no_follow
            .get(format!("{}/api/v1/files/{fid}", x.t.base))
            .basic_auth(&x.ivan.email, Some(PASS));
        async move { req.send().await.expect("send").status().as_u16() }
    };
    assert_eq!(status(fids[0]).await, 302, "Ivan's own document");
    assert_eq!(status(fids[1]).await, 403, "Petr's document");
}

impl Fx {
    /// The record ids `e` may pick in the Client field of Orders.
    async fn picked(&self, e: &Emp, client_field: &str) -> Vec<String> {
        let path = format!(
            "/api/v1/catalogs/{}/fields/{client_field}/availableRecords",
            self.o
        );
        let r = self.as_(e, Method::GET, &path, None).await;
        let mut ids: Vec<String> = r
            .expect(200)
            .as_array()
            .expect("list")
            .iter()
            .map(|i| i["recordId"].as_str().unwrap_or_default().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The relation groups of a client as `e`.
    async fn relations(&self, e: &Emp, client: &str) -> Vec<Value> {
        let path = format!("/api/v1/catalogs/{}/records/{client}/relations", self.c);
        let r = self.as_(e, Method::GET, &path, None).await;
        r.expect(200).as_array().expect("groups").clone()
    }
}

/// Link pickers and back-links list the records the caller may see, filtered in SQL: the
/// clients of his city when picking one, his own orders among a client's relations.
#[tokio::test]
async fn link_pickers_and_relations_show_only_visible_records() {
    let x = fixture().await;
    let same_city = x
        .rights_view(
            &x.c,
            "My city",
            json!([{"attr": x.c_city, "value": [{"catalogId": x.cities, "recordId": format!("CURRENT_USER.{}", x.city_field)}]}]),
        )
        .await;
    x.set(view_obj(&x.c, &same_city), vec![rule(all_users(), "view")])
        .await;
    let v_my = x.v_my().await;
    x.set(view_obj(&x.o, &v_my), vec![rule(all_users(), "create")])
        .await;
    let client_field = field_id(
        &x.t.get(&format!("/api/v1/catalogs/{}", x.o)).await.json,
        "Client",
    );
    assert_eq!(
        x.picked(&x.ivan, &client_field).await,
        sorted(&[&x.alpha, &x.beta])
    );
    assert_eq!(
        x.picked(&x.petr, &client_field).await,
        sorted(&[&x.gamma, &x.delta])
    );
    // Relations of a client: only the caller's own orders link to it for him.
    let groups = x.relations(&x.ivan, &x.alpha).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["recordsTotal"], 1);
    assert_eq!(groups[0]["records"][0]["id"], x.ivan_new.as_str());
    // Petr moves to Moscow: he sees Alpha, but Ivan's order linking it stays hidden.
    x.t.patch(
        &format!("/api/v1/catalogs/$users/records/{}", x.petr.id),
        json!({"values": {x.city_field.clone(): link(&x.cities, &x.moscow)}}),
    )
    .await
    .expect(200);
    assert_eq!(x.relations(&x.petr, &x.alpha).await, Vec::<Value>::new());
}

impl Fx {
    /// The titles of the records whose phone matches "900 111", as `e` finds them.
    async fn contacts_found(&self, e: &Emp) -> Vec<String> {
        let r = self
            .as_(
                e,
                Method::GET,
                "/api/v1/contacts?searchText=900%20111",
                None,
            )
            .await;
        r.expect(200)
            .as_array()
            .expect("list")
            .iter()
            .map(|f| f["recordTitle"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// The contact search finds the contacts of visible records only.
#[tokio::test]
async fn contacts_search_only_visible_records() {
    let x = fixture().await;
    let people = catalog_in(
        &x.t,
        &x.s,
        "People",
        json!([
            {"name": "Name", "type": "text"},
            {"name": "Owner", "type": "user"},
            {"name": "Phone", "type": "contact", "config": {"type": "phone"}}
        ]),
    )
    .await;
    let p = id(&people);
    let (name, owner, phone) = (
        field_id(&people, "Name"),
        field_id(&people, "Owner"),
        field_id(&people, "Phone"),
    );
    for (who, n, number) in [
        (&x.ivan, "Ivan's", "+7 900 111-22-33"),
        (&x.petr, "Petr's", "+7 900 111-22-44"),
    ] {
        x.t.record(
            &p,
            json!({name.clone(): n, owner.clone(): [{"id": who.id}], phone.clone(): [{"contact": number}]}),
        )
        .await;
    }
    let mine = x
        .rights_view(
            &p,
            "My people",
            json!([{"attr": owner, "value": ["CURRENT_USER"]}]),
        )
        .await;
    x.set(view_obj(&p, &mine), vec![rule(all_users(), "view")])
        .await;
    assert_eq!(x.contacts_found(&x.ivan).await, vec!["Ivan's".to_string()]);
    assert_eq!(x.contacts_found(&x.petr).await, vec!["Petr's".to_string()]);
    let all = x.t.get("/api/v1/contacts?searchText=900%20111").await;
    assert_eq!(all.expect(200).as_array().map(Vec::len), Some(2));
}

/// An employee given `access` on a catalog, who is also in a group with a rights-view rule
/// there, reaches every record alike: each shows `access`, whatever the view matches. A
/// `deny` on the view still hides its records from them.
#[tokio::test]
async fn full_access_outweighs_another_groups_view_rule_but_not_its_deny() {
    let x = fixture().await;
    x.set(cat(&x.c), vec![rule(user(&x.andrey.id), "access")])
        .await;
    let vip = x
        .rights_view(
            &x.c,
            "VIP",
            json!([{"attr": x.c_category, "value": [x.vip]}]),
        )
        .await;
    x.set(view_obj(&x.c, &vip), vec![rule(all_users(), "view")])
        .await;
    let everyone = sorted(&[&x.alpha, &x.beta, &x.gamma, &x.delta]);
    assert_eq!(x.listed(&x.andrey, &x.c).await, everyone);
    let list = x.list_json(&x.andrey, &x.c).await;
    for r in [&x.alpha, &x.beta, &x.gamma, &x.delta] {
        assert_eq!(code_in(&list, r).as_deref(), Some("access"), "record {r}");
        assert_eq!(x.record_code(&x.andrey, &x.c, r).await, "access");
    }
    // The view alone gives Ivan its records, read-only.
    assert_eq!(x.listed(&x.ivan, &x.c).await, sorted(&[&x.beta, &x.delta]));
    assert_eq!(x.record_code(&x.ivan, &x.c, &x.beta).await, "view");

    x.set(view_obj(&x.c, &vip), vec![rule(all_users(), "deny")])
        .await;
    assert_eq!(
        x.listed(&x.andrey, &x.c).await,
        sorted(&[&x.alpha, &x.gamma])
    );
    assert_eq!(x.record_code(&x.andrey, &x.c, &x.alpha).await, "access");
    x.get_record(&x.andrey, &x.c, &x.beta)
        .await
        .expect_error(403, "forbidden", None);
}
