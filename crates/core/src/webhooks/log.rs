//! The delivery log of a hook and the resend of one delivery
//! (`/api/v1/webhooks/{hookId}/deliveries`).

use kartoteka_model::privilege::Privilege;
use kartoteka_model::ErrorCode;
use kartoteka_store::outbox::{self, Attempt, Delivery, NewDelivery};

use super::WEBHOOKS_CATALOG_ID;
use crate::error::{Error, Result};
use crate::{Actor, App};

/// The most deliveries one page holds.
pub const MAX_PAGE: i64 = 100;

/// A delivery with its tries, oldest try first.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
    /// The message as sent (as it will be sent, once numbered).
    pub body: serde_json::Value,
}

/// The message of a delivery, rebuilt as the dispatcher sends it (`sequenceId` null until
/// it is numbered).
fn view(hook_id: &str, delivery: Delivery, attempts: Vec<Attempt>) -> DeliveryView {
    let text = super::message(
        hook_id,
        &delivery.event,
        delivery.seq.unwrap_or(0),
        delivery.created_at,
        &delivery.payload,
        delivery.user_id.as_deref(),
    );
    let mut body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if delivery.seq.is_none() {
        if let Some(h) = body.get_mut("hook").and_then(|h| h.as_object_mut()) {
            h.insert("sequenceId".into(), serde_json::Value::Null);
        }
    }
    DeliveryView {
        delivery,
        attempts,
        body,
    }
}

/// A page of the log.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    pub total: i64,
}

impl App {
    /// Resolves a hook id (public id or `dbId`) and checks the caller's right on `$webhooks`.
    async fn hook_for(
        &self,
        actor: &Actor,
        hook_ref: &str,
        need: Privilege,
    ) -> Result<(i64, String)> {
        let schema = self.schema();
        let catalog = schema.catalog(WEBHOOKS_CATALOG_ID)?.clone();
        self.require_on_catalog(actor, &catalog, need).await?;
        let db_id = self.find_record(&catalog, hook_ref).await.map_err(|_| {
            Error::new(
                ErrorCode::RecordNotFound,
                format!("webhook {hook_ref:?} not found"),
            )
        })?;
        let public = self
            .subscriptions()
            .await?
            .iter()
            .find(|s| s.db_id == db_id)
            .map(|s| s.id.clone())
            .unwrap_or_else(|| db_id.to_string());
        Ok((db_id, public))
    }

    /// A hook's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        hook_ref: &str,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<DeliveryPage> {
        let (hook, public) = self.hook_for(actor, hook_ref, Privilege::View).await?;
        let (limit, offset) = (limit.unwrap_or(20), offset.unwrap_or(0));
        if limit < 0 || offset < 0 {
            return Err(Error::new(
                ErrorCode::InvalidQuery,
                "limit and offset must not be negative",
            ));
        }
        let limit = limit.clamp(1, MAX_PAGE);
        self.store
            .read(move |c| -> Result<DeliveryPage> {
                let (rows, total) = outbox::list(c, hook, limit, offset)?;
                let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
                let tries = outbox::attempts_of(c, &ids)?;
                let deliveries = rows
                    .into_iter()
                    .map(|delivery| {
                        let attempts = tries
                            .iter()
                            .filter(|(id, _)| *id == delivery.id)
                            .map(|(_, a)| a.clone())
                            .collect();
                        view(&public, delivery, attempts)
                    })
                    .collect();
                Ok(DeliveryPage { deliveries, total })
            })
            .await
    }

    /// Queues a delivery again: a new pending delivery with the same body (and so the same
    /// `sequenceId` and `webhook-id`, so receivers can recognise a repeat), sent by the
    /// dispatcher with the usual retries.
    pub async fn resend_webhook_delivery(
        &self,
        actor: &Actor,
        hook_ref: &str,
        delivery_id: &str,
    ) -> Result<DeliveryView> {
        let (hook, public) = self.hook_for(actor, hook_ref, Privilege::Edit).await?;
        let not_found = || {
            Error::new(
                ErrorCode::NotFound,
                format!("delivery {delivery_id:?} of webhook {hook_ref:?} not found"),
            )
        };
        let id: i64 = delivery_id.parse().map_err(|_| not_found())?;
        let fresh = self
            .store
            .write(move |c| -> Result<Option<Delivery>> {
                let Some(old) = outbox::get(c, hook, id)? else {
                    return Ok(None);
                };
                let new_id = outbox::insert(
                    c,
                    &NewDelivery {
                        hook_id: hook,
                        // The same number, so the same message: receivers see a repeat.
                        seq: old.seq,
                        kind: "notification",
                        event: &old.event,
                        catalog_db_id: old.catalog_db_id,
                        record_db_id: old.record_db_id,
                        payload: &old.payload,
                        user_id: old.user_id.as_deref(),
                        state: "pending",
                        // The event time the message carries: the same bytes are sent. (It
                        // is in the past, so the copy is due at once.)
                        now: old.created_at,
                        resend_of: Some(old.id),
                    },
                )?;
                Ok(outbox::get(c, hook, new_id)?)
            })
            .await?
            .ok_or_else(not_found)?;
        self.deliveries_enqueued();
        Ok(view(&public, fresh, Vec::new()))
    }
}
