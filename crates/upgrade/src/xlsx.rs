//! The Excel report of spec 02 §3.5: the sheets «Список сценариев» and «Опасные каталоги»,
//! three blocks each (a title row, a header row, the data rows), a blank row between blocks;
//! on request the third sheet «Опасные вебхуки» the spec allows (§3.4), one block. The
//! scripts carry the optional hints column of §3.3 («Подсказки»: places that look like
//! legacy ids).

use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::report::{CatalogEntry, Report, ScriptEntry, TriggerKind};
use crate::UpgradeError;

/// Sheet names.
pub const SCRIPTS_SHEET: &str = "Список сценариев";
pub const CATALOGS_SHEET: &str = "Опасные каталоги";
pub const WEBHOOKS_SHEET: &str = "Опасные вебхуки";

/// Block titles, in order.
pub const SCRIPT_BLOCKS: [&str; 3] = [
    "Сценарии безопасных событий и внешних запросов",
    "Сценарии опасных событий",
    "Сценарии, которые не удалось определить",
];
pub const CATALOG_BLOCKS: [&str; 3] = [
    "Служебные каталоги",
    "Каталоги, которые напрямую связаны со служебными",
    "Каталоги, которые косвенно связаны со служебными",
];

/// Column headers.
pub const SCRIPT_HEADERS: [&str; 5] = [
    "ID",
    "Название",
    "Причины",
    "События/внешние запросы",
    "Подсказки",
];
pub const CATALOG_HEADERS: [&str; 4] = ["ID", "Название", "Раздел", "Связь"];
pub const WEBHOOK_BLOCK: &str = "Вебхуки на опасных каталогах";
pub const WEBHOOK_HEADERS: [&str; 4] = ["ID", "URL", "Каталог", "Статус"];

fn err(e: XlsxError) -> UpgradeError {
    UpgradeError::Write(e.to_string())
}

/// Writes the report to `path`; `webhooks` adds the sheet «Опасные вебхуки».
pub fn write(report: &Report, path: &Path, webhooks: bool) -> Result<(), UpgradeError> {
    workbook(report, webhooks)?.save(path).map_err(err)
}

/// The report as the bytes of an `.xlsx` file.
pub fn to_bytes(report: &Report, webhooks: bool) -> Result<Vec<u8>, UpgradeError> {
    workbook(report, webhooks)?.save_to_buffer().map_err(err)
}

/// The «События/внешние запросы» cell of a script.
fn triggers_cell(s: &ScriptEntry) -> String {
    if s.unreferenced {
        return "не используется (unreferenced)".into();
    }
    s.triggers
        .iter()
        .map(|t| {
            let kind = match t.kind {
                TriggerKind::Event => "событие",
                TriggerKind::Listener => "внешний запрос",
            };
            format!("{kind} {} «{}»", t.id, t.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn workbook(report: &Report, webhooks: bool) -> Result<Workbook, UpgradeError> {
    let mut book = Workbook::new();
    let title = Format::new().set_bold().set_font_size(13);
    let header = Format::new().set_bold().set_background_color("D9E1F2");
    let scripts = [&report.scripts.a, &report.scripts.b, &report.scripts.c];
    let sheet = book.add_worksheet();
    sheet.set_name(SCRIPTS_SHEET).map_err(err)?;
    let blocks: Vec<(&str, Vec<Vec<String>>)> = SCRIPT_BLOCKS
        .iter()
        .zip(scripts)
        .map(|(t, list)| {
            let rows = list
                .iter()
                .map(|s| {
                    vec![
                        s.id.clone(),
                        s.name.clone(),
                        s.reasons.join(", "),
                        triggers_cell(s),
                        s.hints.join("; "),
                    ]
                })
                .collect();
            (*t, rows)
        })
        .collect();
    fill(
        sheet,
        &blocks,
        &SCRIPT_HEADERS,
        &[14.0, 40.0, 50.0, 60.0, 50.0],
        &title,
        &header,
    )?;

    let catalogs = [
        &report.catalogs.system,
        &report.catalogs.direct,
        &report.catalogs.indirect,
    ];
    let sheet = book.add_worksheet();
    sheet.set_name(CATALOGS_SHEET).map_err(err)?;
    let row = |c: &CatalogEntry| {
        let section = if c.section_name.is_empty() {
            c.section_id.clone()
        } else {
            c.section_name.clone()
        };
        vec![c.id.clone(), c.name.clone(), section, c.connection.clone()]
    };
    let blocks: Vec<(&str, Vec<Vec<String>>)> = CATALOG_BLOCKS
        .iter()
        .zip(catalogs)
        .map(|(t, list)| (*t, list.iter().map(row).collect()))
        .collect();
    fill(
        sheet,
        &blocks,
        &CATALOG_HEADERS,
        &[14.0, 40.0, 50.0, 60.0],
        &title,
        &header,
    )?;

    if webhooks {
        let sheet = book.add_worksheet();
        sheet.set_name(WEBHOOKS_SHEET).map_err(err)?;
        let rows = report
            .webhooks
            .iter()
            .map(|w| {
                vec![
                    w.id.clone(),
                    w.url.clone(),
                    format!("{} «{}»", w.catalog.id, w.catalog.name),
                    w.status.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let blocks = [(WEBHOOK_BLOCK, rows)];
        fill(
            sheet,
            &blocks,
            &WEBHOOK_HEADERS,
            &[14.0, 60.0, 40.0, 14.0],
            &title,
            &header,
        )?;
    }
    Ok(book)
}

fn fill(
    sheet: &mut Worksheet,
    blocks: &[(&str, Vec<Vec<String>>)],
    headers: &[&str],
    widths: &[f64],
    title: &Format,
    header: &Format,
) -> Result<(), UpgradeError> {
    for (col, w) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, *w).map_err(err)?;
    }
    let mut r: u32 = 0;
    for (i, (name, rows)) in blocks.iter().enumerate() {
        if i > 0 {
            // The blank row between blocks.
            r += 1;
        }
        sheet
            .write_string_with_format(r, 0, *name, title)
            .map_err(err)?;
        r += 1;
        for (col, h) in headers.iter().enumerate() {
            sheet
                .write_string_with_format(r, col as u16, *h, header)
                .map_err(err)?;
        }
        r += 1;
        for cells in rows {
            for (col, v) in cells.iter().enumerate() {
                sheet.write_string(r, col as u16, v).map_err(err)?;
            }
            r += 1;
        }
    }
    Ok(())
}
