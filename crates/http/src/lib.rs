//! The HTTP layer: axum routers for `/api/v1`, `/auth` and `/health`, authentication, wire
//! JSON and the mapping of errors to statuses. The only crate that knows HTTP.

pub mod aggregate;
pub mod error;
pub mod extract;
pub use kartoteka_core::wire as render;
pub mod rights;
pub mod routes;
pub mod views;
pub mod webrequest;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::routing::get;
use axum::Router;
use kartoteka_core::App;
use tower::ServiceExt;

use crate::error::{not_found, not_implemented};
use crate::extract::MAX_BODY;

/// The application router.
pub fn router(app: Arc<App>) -> Router {
    use routes::*;
    let api = Router::new()
        .route("/sections", get(list_sections).post(create_section))
        .route(
            "/sections/{id}",
            get(get_section)
                .patch(update_section)
                .delete(delete_section),
        )
        .route("/catalogs", get(list_catalogs).post(create_catalog))
        .route(
            "/catalogs/{id}",
            get(get_catalog)
                .patch(update_catalog)
                .delete(delete_catalog),
        )
        .route(
            "/catalogs/{id}/records",
            get(list_records).post(create_record),
        )
        .route(
            "/catalogs/{id}/records/{rid}",
            get(get_record).patch(update_record).delete(delete_record),
        )
        .route(
            "/catalogs/{id}/views",
            get(views::list_views).post(views::create_view),
        )
        .route(
            "/catalogs/{id}/views/{vid}",
            get(views::get_view)
                .patch(views::update_view)
                .delete(views::delete_view),
        )
        .route("/rights", get(rights::get_rights).post(rights::set_rights))
        .route("/catalogs/{id}/values", get(aggregate::values))
        .route("/catalogs/{id}/values/{axis}", get(aggregate::value))
        .route("/catalogs/{id}/totals", get(aggregate::totals))
        .route(
            "/catalogs/{id}/changes",
            axum::routing::post(record_changes),
        )
        .route("/webhooks/{hid}/deliveries", get(webhook_deliveries))
        .route(
            "/webhooks/{hid}/deliveries/{did}/resend",
            axum::routing::post(resend_webhook_delivery),
        )
        .route("/profile/me", get(profile))
        .route("/histories", get(histories))
        .route("/files", axum::routing::post(begin_upload))
        .route("/files/{id}", get(download).patch(confirm_upload))
        .route("/files/{id}/{part}", get(download_part))
        .route("/users", get(users))
        .route("/contacts", get(contacts))
        .route("/catalogs/{id}/records/{rid}/relations", get(relations))
        .route(
            "/catalogs/{id}/records/{rid}/messages",
            get(list_messages).post(post_message),
        )
        .route(
            "/catalogs/{id}/records/{rid}/messages/{mid}",
            axum::routing::patch(update_message).delete(delete_message),
        )
        .route(
            "/catalogs/{id}/records/{rid}/chatOptions",
            axum::routing::patch(chat_options),
        )
        .route(
            "/catalogs/{id}/records/{rid}/chatOptions/{again}",
            axum::routing::patch(chat_options_repeated),
        )
        .route(
            "/catalogs/{id}/fields/{fid}/availableRecords",
            get(available_records),
        )
        .route(
            "/catalogs/{id}/fields/{fid}/availableFilterRecords",
            get(available_filter_records),
        )
        .route(
            "/catalogs/{id}/fields/{fid}/availableFilterRecord",
            get(available_filter_records),
        )
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            extract::authenticate,
        ));
    Router::new()
        .route("/health", get(health))
        .route("/auth/login", get(login_get).post(login))
        .route("/auth/logout", axum::routing::post(logout))
        .route(
            "/storage/upload",
            axum::routing::post(receive_upload).layer(DefaultBodyLimit::max(
                kartoteka_core::files::MAX_FILE_SIZE as usize + 1024 * 1024,
            )),
        )
        .route("/storage/files/{id}", get(stored_file))
        .route("/storage/files/{id}/{part}", get(stored_file_part))
        .route(
            "/api/webrequest/{url_id}",
            axum::routing::any(webrequest::web_request),
        )
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(not_implemented)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Drops one trailing slash (`/records/` ≡ `/records`): existing clients send it.
fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Serves the application on `listener` until `shutdown` resolves; requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let svc = router(app).map_request(trim_trailing_slash);
    // Answers are small and written whole: send them at once rather than wait for Nagle.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, tower::make::Shared::new(svc))
        .with_graceful_shutdown(shutdown)
        .await
}
