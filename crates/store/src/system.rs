//! The Bpium 2.0 system catalogs (spec 02 §1.3) with their fields (spec 02 §1.9), as one
//! declarative table, and the migration step that creates them as real catalogs.
//!
//! Every catalog's `dbId` is its legacy number; every field is a system field whose public id
//! is its `$` text id. A field with a documented 1.x number keeps it as `prevId`, and its values
//! are duplicated under that number (`duplicateResultWithPrevId`). `nextFieldId` starts above
//! the largest legacy number, so custom fields added later never take a legacy id.
//!
//! `$users` already exists (migration 2, with `$name` and `$email`); seeding adds only the
//! fields it lacks. A catalog that already exists keeps its rows; missing fields are appended.

use kartoteka_model::field::{FieldDef, FieldType};
use serde_json::{json, Map, Value};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::schema::{self, CatalogRow};

/// The migration version this module belongs to (for error messages).
const VERSION: i64 = 3;

/// `$settings` («Управление») and `$system` («Система»), by dbId.
const SETTINGS: i64 = 1;
const SYSTEM: i64 = 2;

/// A dropdown or radio item: `$` id, Russian name, optional colour (6 hex digits).
#[derive(Debug, Clone, Copy)]
struct Item {
    id: &'static str,
    name: &'static str,
    color: Option<&'static str>,
}

const fn item(id: &'static str, name: &'static str) -> Item {
    Item {
        id,
        name,
        color: None,
    }
}

const fn colored(id: &'static str, name: &'static str, color: &'static str) -> Item {
    Item {
        id,
        name,
        color: Some(color),
    }
}

/// A field's type with the settings that go into its config.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A layout section; no value.
    Group,
    /// Text with its `config.type` (`text`, `multiline`, `mail`, `phone`).
    Text(&'static str),
    /// A number with an optional display unit.
    Number(Option<&'static str>),
    /// A date with time.
    DateTime,
    /// A switch; `true` = on by default.
    Switch(bool),
    /// A coloured status; `default_first` preselects the first item.
    Dropdown {
        items: &'static [Item],
        multi: bool,
        default_first: bool,
    },
    /// A single choice.
    Radio(&'static [Item]),
    /// Links to records of the named catalogs.
    Link {
        catalogs: &'static [&'static str],
        multi: bool,
    },
    /// Employees.
    User(bool),
    /// Files, with an optional MIME restriction.
    File {
        multi: bool,
        mime: Option<&'static str>,
    },
}

/// One system field.
#[derive(Debug, Clone, Copy)]
struct Field {
    /// The 1.x numeric id, where a doc shows one (becomes `prevId`, duplicated).
    legacy: Option<u32>,
    /// The 2.0 text id (`$…`); its name without `$` is the data column.
    id: &'static str,
    /// A non-duplicated alternative id accepted on input (`prevId`), e.g. `$template-code`.
    alias: Option<&'static str>,
    name: &'static str,
    kind: Kind,
    required: bool,
    api_only: bool,
    hint: &'static str,
}

impl Field {
    const fn new(id: &'static str, name: &'static str, kind: Kind) -> Field {
        Field {
            legacy: None,
            id,
            alias: None,
            name,
            kind,
            required: false,
            api_only: false,
            hint: "",
        }
    }
    const fn legacy(mut self, n: u32) -> Field {
        self.legacy = Some(n);
        self
    }
    const fn alias(mut self, a: &'static str) -> Field {
        self.alias = Some(a);
        self
    }
    const fn required(mut self) -> Field {
        self.required = true;
        self
    }
    const fn api_only(mut self) -> Field {
        self.api_only = true;
        self
    }
    const fn hint(mut self, h: &'static str) -> Field {
        self.hint = h;
        self
    }
}

const fn text(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::Text("text"))
}
const fn multiline(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::Text("multiline"))
}
const fn mail(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::Text("mail"))
}
const fn number(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::Number(None))
}
const fn number_in(id: &'static str, name: &'static str, unit: &'static str) -> Field {
    Field::new(id, name, Kind::Number(Some(unit)))
}
const fn datetime(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::DateTime)
}
const fn switch(id: &'static str, name: &'static str, on: bool) -> Field {
    Field::new(id, name, Kind::Switch(on))
}
const fn group(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::Group)
}
const fn status(id: &'static str, name: &'static str, items: &'static [Item]) -> Field {
    Field::new(
        id,
        name,
        Kind::Dropdown {
            items,
            multi: false,
            default_first: false,
        },
    )
}
const fn status_default(id: &'static str, name: &'static str, items: &'static [Item]) -> Field {
    Field::new(
        id,
        name,
        Kind::Dropdown {
            items,
            multi: false,
            default_first: true,
        },
    )
}
const fn multi_status(id: &'static str, name: &'static str, items: &'static [Item]) -> Field {
    Field::new(
        id,
        name,
        Kind::Dropdown {
            items,
            multi: true,
            default_first: false,
        },
    )
}
const fn link(id: &'static str, name: &'static str, catalogs: &'static [&'static str]) -> Field {
    Field::new(
        id,
        name,
        Kind::Link {
            catalogs,
            multi: false,
        },
    )
}
const fn links(id: &'static str, name: &'static str, catalogs: &'static [&'static str]) -> Field {
    Field::new(
        id,
        name,
        Kind::Link {
            catalogs,
            multi: true,
        },
    )
}
const fn user(id: &'static str, name: &'static str) -> Field {
    Field::new(id, name, Kind::User(false))
}
const fn file(id: &'static str, name: &'static str) -> Field {
    Field::new(
        id,
        name,
        Kind::File {
            multi: false,
            mime: None,
        },
    )
}

/// One system catalog: `db_id` is its legacy number (spec 02 §1.3).
#[derive(Debug)]
struct Catalog {
    db_id: i64,
    id: &'static str,
    name: &'static str,
    section: i64,
    icon: &'static str,
    history: bool,
    fields: &'static [Field],
}

const ON_OFF: &[Item] = &[
    colored("$on", "Активно", "C9FDE5"),
    colored("$off", "Выключено", "DFE0E0"),
];

const EVENT_TYPES: &[Item] = &[
    item("$record.after.create", "Уведомление о создании записи"),
    item("$record.after.update", "Уведомление об изменении записи"),
    item("$record.after.delete", "Уведомление об удалении записи"),
    item("$record.before.create", "Запрос на создание записи"),
    item("$record.before.update", "Запрос на изменение записи"),
    item("$record.before.delete", "Запрос на удаление записи"),
    item("$record.updating", "Изменено поле во время редактирования"),
];

const WEBHOOK_EVENT_TYPES: &[Item] = &[
    item("$record.created", "Уведомление о создании записи"),
    item("$record.updated", "Уведомление об изменении записи"),
    item("$record.deleted", "Уведомление об удалении записи"),
    item("$record.before.created", "Запрос на создание записи"),
    item("$record.before.updated", "Запрос на изменение записи"),
    item("$record.before.deleted", "Запрос на удаление записи"),
    item("$record.updating", "Изменено поле во время редактирования"),
];

const USER_TYPES: &[Item] = &[
    item("$user", "Сотрудник"),
    item("$extuser", "Внешний пользователь"),
];

const LAUNCH_TYPES: &[Item] = &[item("$async", "Асинхронный"), item("$sync", "Синхронный")];

const PROCESS_STATUSES: &[Item] = &[
    item("$running", "Исполняется"),
    item("$done", "Завершён"),
    item("$error", "Ошибка"),
    item("$aborted", "Прерван"),
];

const PRIVILEGES: &[Item] = &[
    item("$available", "Доступ к разрешенным"),
    item("$search", "Видеть в меню"),
    item("$view", "Видеть все записи"),
    item("$edit", "Изменять все записи"),
    item("$create", "Создавать записи"),
    item("$export", "Экспортировать записи"),
    item("$delete", "Удалять записи"),
    item("$access", "Назначать права"),
    item("$admin", "Администрировать"),
    item("$deny", "Запретить доступ"),
];

const FIELD_PRIVILEGES: &[Item] = &[
    item("$edit", "Изменение"),
    item("$view", "Просмотр"),
    item("$hide", "Скрыто"),
];

const COMPANY_STATUSES: &[Item] = &[item("$ready", "Готов"), item("$updating", "Обновляется")];

const OAUTH_TYPES: &[Item] = &[
    item("$google", "Google"),
    item("$yandex", "Yandex"),
    item("$mailru", "Mail.ru"),
    item("$vk", "VK"),
    item("$keycloak", "Keycloak"),
    item("$oauth", "OAuth2"),
];

/// Every system catalog, in menu order within each section.
const CATALOGS: &[Catalog] = &[
    // «Управление» (spec 02 §1.9.1–§1.9.9).
    Catalog {
        db_id: 1,
        id: "$catalogs",
        name: "Каталоги",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название").required(),
            text("$icon", "Иконка"),
            link("$sectionDbId", "Раздел", &["$sections"]),
            switch("$history", "История изменений", true),
        ],
    },
    Catalog {
        db_id: 2,
        id: "$sections",
        name: "Секции",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название").required(),
            text("$icon", "Иконка"),
            number("$priority", "Порядок"),
        ],
    },
    Catalog {
        db_id: 3,
        id: "$users",
        name: "Сотрудники",
        section: SETTINGS,
        icon: "users-1",
        history: true,
        fields: &[
            // `$name` and `$email` come from migration 2; listed here for completeness.
            text("$name", "Имя").legacy(1).required(),
            mail("$email", "Эл. почта")
                .legacy(2)
                .hint("На указанный адрес будет отправлено приглашение на вход в систему"),
            status_default("$type", "Тип пользователя", USER_TYPES).legacy(4),
        ],
    },
    Catalog {
        db_id: 4,
        id: "$views",
        name: "Виды",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название"),
            text("$originName", "Название для администраторов"),
            link("$catalogDbId", "Каталог", &["$catalogs"]),
            user("$userDbId", "Автор"),
            switch("$forRights", "Вид для прав доступа", false),
            multiline("$filters", "Фильтры"),
            // The display settings the UI keeps per view (spec 01 §8 `config`), as JSON.
            multiline("$config", "Настройки отображения"),
        ],
    },
    Catalog {
        db_id: 5,
        id: "$webhooks",
        name: "Вебхуки",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            status_default("$status", "Статус", ON_OFF),
            link("$catalog", "Каталог", &["$catalogs"]).required(),
            multi_status("$eventTypes", "События", WEBHOOK_EVENT_TYPES),
            text("$trackFields", "Отслеживать поля"),
            text("$url", "URL").required(),
            links("$initiator", "Инициатор", &["$users"]),
            text("$secret", "Секретная строка"),
            number("$sequenceId", "Номер последнего события").api_only(),
            // Beyond the original: Standard Webhooks headers next to X-Hook-Signature, and
            // the time since which deliveries keep failing (set and cleared by the server).
            switch("$standardWebhooks", "Заголовки Standard Webhooks", false),
            datetime("$failingSince", "Не доставляется с").api_only(),
        ],
    },
    Catalog {
        db_id: 6,
        id: "$scripts",
        name: "Сценарии",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название").legacy(1).required(),
            multiline("$description", "Описание").legacy(2),
            Field::new(
                "$file",
                "Сценарий",
                Kind::File {
                    multi: false,
                    mime: Some("application/bpmn+xml"),
                },
            )
            .legacy(3),
        ],
    },
    Catalog {
        db_id: 7,
        id: "$events",
        name: "События",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            status_default("$status", "Статус", ON_OFF).legacy(11),
            text("$name", "Название").legacy(1).required(),
            multiline("$description", "Описание").legacy(2),
            group("$conditionsSection", "Условия").legacy(3),
            link("$catalog", "Каталог", &["$catalogs"]).legacy(4),
            multi_status("$eventTypes", "События", EVENT_TYPES).legacy(5),
            text("$trackFields", "Отслеживать поля").legacy(6),
            group("$actionSection", "Действие").legacy(7),
            link("$script", "Выполнить", &["$scripts"]).legacy(8),
        ],
    },
    Catalog {
        db_id: 8,
        id: "$processes",
        name: "Процессы",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            datetime("$startDate", "Дата запуска"),
            link("$script", "Сценарий", &["$scripts"]),
            status("$launchType", "Тип запуска", LAUNCH_TYPES),
            text("$pid", "Код"),
            link("$event", "Событие", &["$events", "$webRequests"]),
            multiline("$input", "Параметры запуска"),
            user("$initiator", "Инициатор"),
            status("$status", "Статус", PROCESS_STATUSES),
            datetime("$endDate", "Дата завершения"),
            multiline("$result", "Результат"),
            number_in("$duration", "Длительность", "с"),
        ],
    },
    Catalog {
        db_id: 9,
        id: "$authServices",
        name: "Доступы к сервисам",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название"),
            multiline("$tokens", "Коды доступа"),
        ],
    },
    Catalog {
        db_id: 10,
        id: "$webRequests",
        name: "Внешние запросы",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            status("$status", "Статус", ON_OFF),
            text("$name", "Название").required(),
            multiline("$description", "Описание"),
            text("$urlId", "URL-идентификатор")
                .required()
                .hint("Латинские буквы, цифры, дефис и знак подчёркивания"),
            link("$script", "Выполнить", &["$scripts"]),
        ],
    },
    Catalog {
        db_id: 11,
        id: "$boards",
        name: "Дашборды",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название"),
            link("$catalogDbId", "Каталог", &["$catalogs"]),
            link("$viewDbId", "Вид", &["$views"]),
            multiline("$layouts", "Расположение графиков"),
        ],
    },
    Catalog {
        db_id: 12,
        id: "$widgets",
        name: "Графики",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название"),
            link("$boardDbId", "Дашборд", &["$boards"]),
            text("$chartType", "Тип графика"),
            switch("$stacked", "Накопление", false),
            multiline("$value", "Значение"),
            multiline("$valueFn", "Функция значения"),
            multiline("$axis", "Ось"),
            multiline("$split", "Разбивка"),
            text("$recordsType", "Записи"),
            multiline("$recordsFilter", "Фильтр записей"),
        ],
    },
    Catalog {
        db_id: 13,
        id: "$messages",
        name: "Сообщения",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            number("$catalogDbId", "Каталог"),
            number("$recordDbId", "Запись"),
            multiline("$text", "Текст"),
            link("$author", "Автор", &["$users"]),
            Field::new(
                "$attachments",
                "Вложения",
                Kind::File {
                    multi: true,
                    mime: None,
                },
            ),
            links("$mention", "Упоминания", &["$users"]),
            link("$reply", "Ответ на", &["$messages"]),
            switch("$deleted", "Удалено", false),
            datetime("$deletedDate", "Дата удаления"),
            datetime("$createdDate", "Дата создания"),
            datetime("$updatedDate", "Дата изменения"),
        ],
    },
    Catalog {
        db_id: 14,
        id: "$rightFields",
        name: "Права на поля",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            link("$rule", "Правило", &["$rights"]),
            text("$fieldId", "Поле"),
            status("$privilegeCode", "Доступ", FIELD_PRIVILEGES),
        ],
    },
    Catalog {
        db_id: 15,
        id: "$rights",
        name: "Права",
        section: SETTINGS,
        icon: "settings",
        history: true,
        fields: &[
            multiline("$object", "Объект"),
            text("$subjectAttr", "Атрибут субъекта"),
            multiline("$subject", "Субъект"),
            multi_status("$privileges", "Привилегии", PRIVILEGES),
            multiline("$fieldsPrivileges", "Права на поля"),
        ],
    },
    // «Система» (spec 02 §1.9.10).
    Catalog {
        db_id: 16,
        id: "$companies",
        name: "Компании",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$title", "Название компании"),
            text("$db", "База данных").api_only(),
            text("$subdomain", "Поддомен"),
            number("$creator", "Создатель"),
            link("$group", "Группа", &["$companiesGroups"]),
            link("$version", "Текущая версия", &["$apiTags"]).api_only(),
            status("$status", "Статус", COMPANY_STATUSES),
            Field::new("$phone", "Телефон", Kind::Text("phone")),
            group("$licenseSection", "Лицензия"),
            text("$serial", "Серийный номер"),
            group("$brandingSection", "Брендирование"),
            file("$logo", "Логотип"),
            file("$favicon", "Фавиконка"),
            text("$domain", "Домен"),
            file("$background", "Фон приложения"),
            group("$parametersSection", "Параметры"),
            datetime("$lastActivity", "Последняя активность"),
            number("$recordsCount", "Число записей"),
        ],
    },
    Catalog {
        db_id: 17,
        id: "$accounts",
        name: "Аккаунты",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "ФИО"),
            mail("$email", "Эл. почта (логин)"),
            links("$companies", "Компании", &["$companies"]),
            datetime("$lastLogin", "Последний вход"),
            number("$loginAttempts", "Попытки входа"),
            group("$parametersSection", "Параметры"),
            datetime("$lastActivity", "Последняя активность"),
            number("$requestsLimit", "Лимит числа запросов"),
            number_in(
                "$requestsLimitInterval",
                "Интервал лимита числа запросов",
                "мс",
            ),
            datetime("$sessionsStart", "Начало новых сессий"),
        ],
    },
    Catalog {
        db_id: 18,
        id: "$invites",
        name: "Приглашения",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            mail("$email", "Эл. почта"),
            text("$companyId", "Пригласившая компания"),
            text("$companyUserId", "Пригласивший пользователь"),
            multiline("$hash", "Хэш ссылки"),
            text("$password", "Пароль"),
        ],
    },
    Catalog {
        db_id: 19,
        id: "$appTags",
        name: "APP",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$version", "Версия"),
            multiline("$comment", "Комментарий"),
        ],
    },
    Catalog {
        db_id: 20,
        id: "$apiTags",
        name: "API",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$version", "Версия сервера"),
            link("$appTag", "Версия веб-клиента", &["$appTags"]),
            multiline("$comment", "Комментарий"),
        ],
    },
    Catalog {
        db_id: 21,
        id: "$companiesGroups",
        name: "Группы компаний",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название"),
            link(
                "$version",
                "Версия, на которой должна работать компания",
                &["$apiTags"],
            ),
            datetime("$updateStart", "Начало обновления"),
            datetime("$updateEnd", "Окончание обновления"),
            number("$isDefault", "Является группой по умолчанию"),
        ],
    },
    Catalog {
        db_id: 22,
        id: "$emailTemplates",
        name: "Шаблоны писем",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$name", "Название"),
            multiline("$template", "Шаблон письма"),
            multiline("$subject", "Тема письма"),
            multiline("$from", "От чьего имени отправлять"),
            text("$templateCode", "ID шаблона").alias("$template-code"),
        ],
    },
    Catalog {
        db_id: 23,
        id: "$extensions",
        name: "Расширения",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            text("$title", "Название"),
            text("$code", "Код"),
            text("$icon", "Иконка"),
            multiline("$js", "JS URL"),
            multiline("$css", "CSS URL"),
        ],
    },
    Catalog {
        db_id: 24,
        id: "$requests",
        name: "Активность доменов",
        section: SYSTEM,
        icon: "settings",
        // DOC: the history of this catalog is off.
        history: false,
        fields: &[
            datetime("$date", "Дата интервала"),
            link("$company", "Домен", &["$companies"]),
            number("$count", "Число запросов"),
            number_in("$totalTime", "Общее время запросов", "с"),
            number_in("$avgTime", "Среднее время запроса", "мс"),
        ],
    },
    Catalog {
        db_id: 25,
        id: "$oauthProviders",
        name: "OAuth провайдеры",
        section: SYSTEM,
        icon: "settings",
        history: true,
        fields: &[
            switch("$enabled", "Активна", false),
            Field::new("$type", "Провайдер", Kind::Radio(OAUTH_TYPES)).required(),
            text("$clientId", "ClientID").required(),
            text("$clientSecret", "Client secret"),
            number("$position", "Порядковый номер в списке"),
            links("$companies", "Компании", &["$companies"]),
            group("$buttonSection", "Кнопка"),
            text("$label", "Подпись"),
            file("$icon", "Иконка"),
            group("$advancedSection", "Дополнительные настройки"),
            text("$authorizationEndpoint", "Authorization Endpoint"),
            text("$tokenEndpoint", "Token Endpoint"),
            text("$userinfoEndpoint", "Userinfo Endpoint"),
            text("$userLoginKey", "Поле логина"),
            text("$userNameKey", "Поле имени пользователя"),
            text("$scope", "Scope"),
            multiline("$params", "Другие параметры"),
        ],
    },
];

fn migration_error(message: String) -> StoreError {
    StoreError::Migration(VERSION, message)
}

impl Kind {
    fn field_type(self) -> FieldType {
        match self {
            Kind::Group => FieldType::Group,
            Kind::Text(_) => FieldType::Text,
            Kind::Number(_) => FieldType::Number,
            Kind::DateTime => FieldType::Date,
            Kind::Switch(_) => FieldType::Switch,
            Kind::Dropdown { .. } => FieldType::Dropdown,
            Kind::Radio(_) => FieldType::Radiobutton,
            Kind::Link { .. } => FieldType::Object,
            Kind::User(_) => FieldType::User,
            Kind::File { .. } => FieldType::File,
        }
    }

    /// The field's config as written by an administrator (before normalisation).
    fn config(self) -> Value {
        fn items_json(items: &[Item]) -> Value {
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| {
                        let mut o = Map::new();
                        o.insert("id".into(), json!(it.id));
                        o.insert("dbId".into(), json!(i + 1));
                        o.insert("name".into(), json!(it.name));
                        if let Some(c) = it.color {
                            o.insert("color".into(), json!(c));
                        }
                        Value::Object(o)
                    })
                    .collect(),
            )
        }
        match self {
            Kind::Group => json!({}),
            Kind::Text(sub) => json!({"type": sub}),
            Kind::Number(None) => json!({}),
            Kind::Number(Some(unit)) => json!({"unit": unit}),
            Kind::DateTime => json!({"time": true}),
            Kind::Switch(false) => json!({}),
            Kind::Switch(true) => json!({"defaultValue": true}),
            Kind::Dropdown {
                items,
                multi,
                default_first,
            } => {
                let mut c = json!({"items": items_json(items), "multiselect": multi});
                if default_first {
                    c["defaultValue"] = json!(true);
                }
                c
            }
            Kind::Radio(items) => json!({"items": items_json(items)}),
            Kind::Link { catalogs, multi } => json!({
                "catalogs": catalogs.iter().map(|c| json!({"id": c})).collect::<Vec<_>>(),
                "multiselect": multi,
                "views": [],
                "fields": {},
            }),
            Kind::User(multi) => json!({"multiselect": multi}),
            Kind::File { multi, mime } => {
                let mut c = json!({"multiselect": multi});
                if let Some(m) = mime {
                    c["mimeType"] = json!(m);
                }
                c
            }
        }
    }
}

/// The normalised config of a system field. Fails when the model rejects it.
fn field_config(catalog: &Catalog, f: &Field) -> Result<Map<String, Value>, StoreError> {
    let mut config = match f.kind.config() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    f.kind
        .field_type()
        .normalize_config(&mut config, None)
        .map_err(|e| {
            migration_error(format!(
                "{}.{}: invalid config: {}",
                catalog.id, f.id, e.message
            ))
        })?;
    // Text item ids have no numeric dbId of their own; number them 1..n (spec 02 §1.8).
    if let Some(Value::Array(items)) = config.get_mut("items") {
        for (i, it) in items.iter_mut().enumerate() {
            if let Value::Object(o) = it {
                o.insert("dbId".into(), json!(i + 1));
            }
        }
    }
    Ok(config)
}

/// The definition row of a system field. `legacy_free` says whether its legacy number is still
/// unused in the catalog; if not, the field gets no legacy alias.
fn field_def(
    catalog: &Catalog,
    f: &Field,
    db_id: i64,
    legacy_free: bool,
) -> Result<FieldDef, StoreError> {
    let (prev_id, duplicate) = match (f.legacy.filter(|_| legacy_free), f.alias) {
        (Some(n), _) => (n.to_string(), true),
        (None, Some(alias)) => (alias.to_string(), false),
        (None, None) => (f.id.to_string(), false),
    };
    Ok(FieldDef {
        db_id,
        id: f.id.into(),
        prev_id,
        duplicate,
        name: f.name.into(),
        field_type: f.kind.field_type(),
        hint: f.hint.into(),
        required: f.required,
        api_only: f.api_only,
        filterable: true,
        history: true,
        hidden: false,
        comment: String::new(),
        config: field_config(catalog, f)?,
        visible: json!({}),
        is_system: true,
        column: f.id.trim_start_matches('$').into(),
    })
}

/// The position of a catalog within its section, in table order.
fn priority(catalog: &Catalog) -> i64 {
    CATALOGS
        .iter()
        .take_while(|c| c.db_id != catalog.db_id)
        .filter(|c| c.section == catalog.section)
        .count() as i64
}

/// One above the largest legacy number of a catalog's fields (at least 1).
fn next_field_id(catalog: &Catalog) -> i64 {
    catalog
        .fields
        .iter()
        .filter_map(|f| f.legacy)
        .map(|n| i64::from(n) + 1)
        .max()
        .unwrap_or(1)
}

/// Creates every system catalog of spec 02 §1.3 that does not exist yet, and adds the missing
/// system fields to those that do (`$users`). Runs inside the migration's transaction.
pub(crate) fn seed_system_catalogs(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let existing = schema::load_catalogs(conn)?;
    for catalog in CATALOGS {
        match existing.iter().find(|c| c.db_id == catalog.db_id) {
            Some(row) if row.id != catalog.id => {
                return Err(migration_error(format!(
                    "catalog dbId {} is {:?}, expected the system catalog {:?}",
                    catalog.db_id, row.id, catalog.id
                )))
            }
            Some(row) => {
                let alone = !existing
                    .iter()
                    .any(|c| c.section_db_id == row.section_db_id && c.db_id != row.db_id);
                extend_catalog(conn, catalog, row, alone)?;
            }
            None => create_catalog(conn, catalog)?,
        }
    }
    Ok(())
}

fn create_catalog(conn: &mut dyn Conn, catalog: &Catalog) -> Result<(), StoreError> {
    let row = CatalogRow {
        db_id: catalog.db_id,
        id: catalog.id.into(),
        section_db_id: catalog.section,
        name: catalog.name.into(),
        icon: catalog.icon.into(),
        history: catalog.history,
        priority: priority(catalog),
        is_system: true,
        deleted: false,
        next_field_id: next_field_id(catalog),
        fields: vec![],
    };
    schema::insert_catalog(conn, &row)?;
    for (i, f) in catalog.fields.iter().enumerate() {
        let db_id = schema::next_id(conn, "fields")?;
        let def = field_def(catalog, f, db_id, true)?;
        schema::insert_field(conn, catalog.db_id, &def, i as i64 + 1)?;
    }
    Ok(())
}

/// Appends the system fields an existing catalog lacks. A legacy number already taken by
/// another field of the catalog (a custom field added before this migration) is not
/// reused: that field keeps its id and the system field gets no legacy alias.
fn extend_catalog(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    row: &CatalogRow,
    alone_in_section: bool,
) -> Result<(), StoreError> {
    let taken = |id: &str| row.fields.iter().any(|x| x.id == id || x.prev_id == id);
    let mut position = row.fields.len() as i64;
    for f in catalog.fields.iter().filter(|f| !taken(f.id)) {
        let legacy_free = f.legacy.is_some_and(|n| !taken(&n.to_string()));
        if f.legacy.is_some() && !legacy_free {
            tracing::warn!(
                catalog = catalog.id,
                field = f.id,
                "legacy field id already used by another field; the system field gets none"
            );
        }
        let db_id = schema::next_id(conn, "fields")?;
        let def = field_def(catalog, f, db_id, legacy_free)?;
        position += 1;
        schema::insert_field(conn, catalog.db_id, &def, position)?;
    }
    let mut updated = row.clone();
    updated.next_field_id = row.next_field_id.max(next_field_id(catalog));
    if alone_in_section {
        updated.priority = priority(catalog);
    }
    if updated != *row {
        schema::update_catalog(conn, &updated)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn catalogs_match_the_legacy_numbers() {
        let ids: Vec<(i64, &str)> = CATALOGS.iter().map(|c| (c.db_id, c.id)).collect();
        assert_eq!(ids.len(), 25);
        for (i, (db_id, _)) in ids.iter().enumerate() {
            assert_eq!(*db_id, i as i64 + 1, "dbIds are 1..25 in order");
        }
        assert_eq!(ids[2], (3, "$users"));
        assert_eq!(ids[24], (25, "$oauthProviders"));
        assert!(CATALOGS[..15].iter().all(|c| c.section == SETTINGS));
        assert!(CATALOGS[15..].iter().all(|c| c.section == SYSTEM));
        assert_eq!(priority(&CATALOGS[2]), 2);
        assert_eq!(priority(&CATALOGS[15]), 0);
        assert!(CATALOGS.iter().all(|c| c.history == (c.id != "$requests")));
    }

    #[test]
    fn fields_are_consistent_and_their_configs_valid() {
        let catalog_ids: HashSet<&str> = CATALOGS.iter().map(|c| c.id).collect();
        for c in CATALOGS {
            assert!(!c.fields.is_empty(), "{} has fields", c.id);
            let mut ids = HashSet::new();
            let mut columns = HashSet::new();
            let mut legacy = HashSet::new();
            for f in c.fields {
                assert!(f.id.starts_with('$'), "{}.{}", c.id, f.id);
                assert!(ids.insert(f.id), "{}.{} twice", c.id, f.id);
                let def = field_def(c, f, 100, true).expect("valid system field");
                assert!(
                    ![
                        "dbId",
                        "id",
                        "createdAt",
                        "updatedAt",
                        "createdBy",
                        "passwordHash"
                    ]
                    .contains(&def.column.as_str()),
                    "{}.{} uses a reserved column",
                    c.id,
                    f.id
                );
                assert!(columns.insert(def.column.clone()), "{}.{}", c.id, f.id);
                if let Some(n) = f.legacy {
                    assert!(legacy.insert(n), "{}: legacy {n} twice", c.id);
                    assert_eq!(def.prev_id, n.to_string());
                    assert!(def.duplicate);
                    assert!(i64::from(n) < next_field_id(c));
                } else {
                    assert!(!def.duplicate);
                }
                if let Kind::Link { catalogs, .. } = f.kind {
                    for t in catalogs {
                        assert!(catalog_ids.contains(t), "{}.{} → {t}", c.id, f.id);
                    }
                }
            }
        }
    }

    #[test]
    fn configs_follow_the_spec() {
        let events = &CATALOGS[6];
        let status = field_def(events, &events.fields[0], 1, true).expect("valid");
        assert_eq!(status.prev_id, "11");
        assert_eq!(
            Value::Object(status.config),
            json!({"items": [
                {"id": "$on", "dbId": 1, "name": "Активно", "color": "C9FDE5"},
                {"id": "$off", "dbId": 2, "name": "Выключено", "color": "DFE0E0"}],
                "multiselect": false, "defaultValue": true})
        );
        assert_eq!(next_field_id(events), 12);
        let scripts = &CATALOGS[5];
        let f = field_def(scripts, &scripts.fields[2], 1, true).expect("valid");
        assert_eq!(
            Value::Object(f.config),
            json!({"multiselect": false, "mimeType": "application/bpmn+xml"})
        );
        let link = field_def(events, &events.fields[8], 1, true).expect("valid");
        assert_eq!(
            Value::Object(link.config),
            json!({"catalogs": [{"id": "$scripts"}], "multiselect": false, "views": [], "fields": {}})
        );
        let templates = &CATALOGS[21];
        let code = field_def(templates, &templates.fields[4], 1, true).expect("valid");
        assert_eq!(
            (
                code.id.as_str(),
                code.prev_id.as_str(),
                code.column.as_str()
            ),
            ("$templateCode", "$template-code", "templateCode")
        );
        assert!(!code.duplicate);
        // A legacy number already in use is not reused.
        let users = &CATALOGS[2];
        let t = field_def(users, &users.fields[2], 1, false).expect("valid");
        assert_eq!((t.prev_id.as_str(), t.duplicate), ("$type", false));
    }
}
