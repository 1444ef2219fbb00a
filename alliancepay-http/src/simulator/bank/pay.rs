//! The customer's side: paying (or failing to pay) an order on the HPP page.

use super::*;

impl Bank {
    /// Plays the customer: a PENDING order becomes SUCCESS or FAIL with a PURCHASE operation;
    /// returns the callback to send, if the order has a `notificationUrl`. `outcome` `None`
    /// follows the bank's test table: 5 and 6 kopecks fail, anything else succeeds.
    ///
    /// # Errors
    /// [`super::super::SimulatorError`] saying why the order cannot be paid.
    pub(crate) fn pay(
        &self,
        hpp_order_id: &str,
        outcome: Option<PaymentOutcome>,
        card: Option<CardUsed>,
    ) -> Result<Option<Delivery>, crate::simulator::SimulatorError> {
        let now_ms = self.now_ms();
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let order = state.orders.get_mut(hpp_order_id).ok_or_else(|| {
            crate::simulator::SimulatorError::UnknownOrder {
                hpp_order_id: hpp_order_id.to_owned(),
            }
        })?;
        if order.status != "PENDING" {
            return Err(crate::simulator::SimulatorError::NotPending {
                hpp_order_id: hpp_order_id.to_owned(),
                status: order.status.clone(),
            });
        }
        if now_ms >= order.expires_ms {
            return Err(crate::simulator::SimulatorError::Expired {
                hpp_order_id: hpp_order_id.to_owned(),
            });
        }
        let outcome = outcome.unwrap_or(if matches!(order.coin_amount, 5 | 6) {
            PaymentOutcome::Fail
        } else {
            PaymentOutcome::Success
        });
        let (status, info) = match outcome {
            PaymentOutcome::Success => (
                "SUCCESS",
                json!({"actionCode":"0","responseCode":"00","description":"approved"}),
            ),
            PaymentOutcome::Fail => (
                "FAIL",
                json!({"actionCode":"116","responseCode":"51","description":"insufficient funds"}),
            ),
        };
        let operation_id = formats::bank_id(now_ms);
        let date = formats::operation_date(now_ms);
        let card = card.unwrap_or(CardUsed {
            mask: TEST_CARD_MASK.into(),
            payment_system: "MasterCard",
            challenged: false,
        });
        let record = json!({
            "type": "PURCHASE",
            "status": status,
            "operationId": operation_id,
            "ecomOperationId": new_uuid(),
            "merchantRequestId": order.merchant_request_id,
            "merchantId": order.merchant_id,
            "hppOrderId": hpp_order_id,
            "coinAmount": order.coin_amount,
            "transactionType": 35,
            "transactionCurrency": "980",
            // Test terminals answer rrn "-1" and no approval code (bank-api.md §5 item 14).
            "rrn": "-1",
            "transactionResponseInfo": info,
            "creationDateTime": date,
            "transactionCreateDateTime": date,
            "processingDateTime": date,
            "modificationDateTime": date,
            "paymentServiceType": "CARD",
            "paymentSystem": card.payment_system,
            "productType": "PURCHASE",
            "cardNumberMask": card.mask,
            "purpose": order.purpose,
            "notificationUrl": order.notification_url,
            "notificationEncryption": order.notification_url.as_ref().map(|_| order.notification_encryption),
            "threeDSMode": if card.challenged { "CHALLENGE" } else { "FRICTIONLESS" },
            // A challenge answered with a wrong code is a failed authentication.
            "statusThreeDs": if card.challenged && status == "SUCCESS" { "Y" } else { "N" },
        });
        let Value::Object(record) = record else {
            return Err(crate::simulator::SimulatorError::Internal(
                "a payment record is not a JSON object",
            ));
        };
        let record = with_documented_members(record);
        order.status = status.into();
        order.operation_ids.push(operation_id.clone());
        let earlier = self.policy.out_of_order_callbacks.then(|| {
            let mut pending = record.clone();
            pending.insert("status".into(), json!("PENDING"));
            let mut doc = order.to_callback(Value::Object(pending));
            doc["orderStatus"] = json!("PENDING");
            doc
        });
        let callback = order.notification_url.clone().map(|url| {
            (
                url,
                order.notification_encryption,
                order.merchant_key,
                order.to_callback(Value::Object(record.clone())),
            )
        });
        let merchant_id = order.merchant_id.clone();
        let key = (merchant_id.clone(), order.merchant_request_id.clone());
        state
            .operation_request_ids
            .entry(key)
            .or_insert_with(|| operation_id.clone());
        state.operations.insert(
            operation_id,
            Operation {
                merchant_id,
                record,
                fingerprint: None,
            },
        );
        drop(guard);
        // In the HPP callback `operations` is one object, not an array (bank-api.md §3.6).
        Ok(callback.and_then(|(url, encrypt, key, doc)| {
            delivery(&url, encrypt, &key, &doc, earlier.as_ref())
        }))
    }
}
