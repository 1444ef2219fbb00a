//! HPP orders: create-order, order data, and what the HPP page reads of an order
//! (bank-api.md §3.2, §3.3).

use super::*;

impl Bank {
    /// `POST …/hpp/v1/create-order` (bank-api.md §3.2).
    pub(super) fn create_order(
        &self,
        request: &Request,
        caller: &Caller,
        ctx: &Ctx<'_>,
    ) -> Response {
        let body = match parse_object(&request.body) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let order = match validate::order(&body) {
            Ok(o) => o,
            Err(e) => return ctx.invalid(&e),
        };
        if order.merchant_id != caller.merchant_id {
            return ctx.error("b_user_merchant_request_mismatch");
        }
        let now_ms = self.now_ms();
        let hpp_order_id = formats::bank_id(now_ms);
        let minutes = order.expiration_minutes.unwrap_or(DEFAULT_ORDER_MINUTES);
        let expires_ms =
            now_ms.saturating_add(i64::try_from(minutes).unwrap_or(0).saturating_mul(60_000));
        let document = self.order_document(&order, &hpp_order_id, now_ms, expires_ms);
        let text = serde_json::to_string(&document)
            .unwrap_or_default()
            .into_boxed_str();
        let mut state = lock(&self.state);
        if !state
            .order_request_ids
            .insert((order.merchant_id.clone(), order.merchant_request_id.clone()))
        {
            return errors::invalid(
                "b_duplicate_field_value",
                "merchantRequestId",
                "was used before",
                ctx.request_id,
                ctx.path,
            );
        }
        let record = Order {
            merchant_id: order.merchant_id,
            merchant_key: caller.merchant_key,
            merchant_request_id: order.merchant_request_id,
            document: text,
            status: "PENDING".into(),
            coin_amount: order.coin_amount,
            created_ms: now_ms,
            expires_ms,
            notification_url: order.notification_url,
            notification_encryption: order.notification_encryption,
            operation_ids: Vec::new(),
            success_url: order.success_url,
            fail_url: order.fail_url,
            status_page_type: order.status_page_type,
            purpose: order.purpose,
            challenge: None,
        };
        let mut answer = document;
        answer.insert("orderStatus".into(), json!("PENDING"));
        state.orders.insert(hpp_order_id.clone(), record);
        state.order_queue.push_back(hpp_order_id);
        state.evict_orders(&self.policy.retention, now_ms);
        Response::json(200, &Value::Object(answer))
    }

    pub(super) fn order_document(
        &self,
        order: &OrderRequest,
        hpp_order_id: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Map<String, Value> {
        let page = format!("{}/__sim/hpp/{hpp_order_id}", self.base_url);
        let json = json!({
            "hppOrderId": hpp_order_id,
            "ecomOrderId": new_uuid(),
            "merchantRequestId": order.merchant_request_id,
            "merchantId": order.merchant_id,
            "hppPayType": order.hpp_pay_type,
            "paymentMethods": order.payment_methods,
            "coinAmount": order.coin_amount,
            "redirectUrl": page,
            "statusUrl": if order.hpp_pay_type == "A2A" { Value::Null } else { json!(format!("{page}/status")) },
            "createDate": formats::order_date(now_ms),
            "expiredOrderDate": formats::order_date(expires_ms),
            "nbuQrCode": if order.generate_qr_nbu { json!(format!("{page}/qr")) } else { Value::Null },
        });
        match json {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// `POST …/hpp/v1/operations` (bank-api.md §3.3).
    pub(super) fn order_data(&self, request: &Request, caller: &Caller, ctx: &Ctx<'_>) -> Response {
        let body = match parse_object(&request.body) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let id = match validate::lookup_key(&body, "hppOrderId") {
            Ok(id) => id,
            Err(e) => return ctx.invalid(&e),
        };
        let now_ms = self.now_ms();
        let state = lock(&self.state);
        let Some(order) = state
            .orders
            .get(&id)
            .filter(|o| o.merchant_id == caller.merchant_id)
        else {
            return ctx.error("b_hpp_order_not_found");
        };
        if order.status == "PENDING" && now_ms >= order.expires_ms {
            return ctx.error("b_hpp_order_expired");
        }
        let operations: Vec<Value> = order
            .operation_ids
            .iter()
            .filter_map(|id| state.operations.get(id))
            .map(|op| Value::Object(op.record.clone()))
            .collect();
        Response::json(200, &order.to_value(Value::Array(operations)))
    }

    /// How many orders carry `merchant_request_id`.
    pub(crate) fn orders_with_request_id(&self, merchant_request_id: &str) -> usize {
        lock(&self.state)
            .orders
            .values()
            .filter(|o| o.merchant_request_id == merchant_request_id)
            .count()
    }

    /// The amount and status of an order, or `None` if unknown.
    pub(crate) fn order_summary(&self, hpp_order_id: &str) -> Option<(u64, String)> {
        lock(&self.state)
            .orders
            .get(hpp_order_id)
            .map(|o| (o.coin_amount, o.status.clone()))
    }

    /// Records the 3-D Secure challenge the HPP page issued for an order (replacing an earlier
    /// one); `false` if the order is unknown.
    pub(crate) fn set_challenge(&self, hpp_order_id: &str, card: CardUsed) -> bool {
        lock(&self.state)
            .orders
            .get_mut(hpp_order_id)
            .map(|o| o.challenge = Some(Box::new(card)))
            .is_some()
    }

    /// Takes the pending 3-D Secure challenge of an order, if the page issued one: each
    /// challenge is answered once.
    pub(crate) fn take_challenge(&self, hpp_order_id: &str) -> Option<CardUsed> {
        lock(&self.state)
            .orders
            .get_mut(hpp_order_id)
            .and_then(|o| o.challenge.take())
            .map(|c| *c)
    }

    /// What the HPP page needs of an order, or `None` if unknown.
    pub(crate) fn order_view(&self, hpp_order_id: &str) -> Option<OrderView> {
        let now_ms = self.now_ms();
        lock(&self.state)
            .orders
            .get(hpp_order_id)
            .map(|o| OrderView {
                merchant_id: o.merchant_id.clone(),
                coin_amount: o.coin_amount,
                status: o.status.clone(),
                purpose: o.purpose.clone(),
                success_url: o.success_url.clone(),
                fail_url: o.fail_url.clone(),
                status_page_type: o.status_page_type.clone(),
                expired: o.status == "PENDING" && now_ms >= o.expires_ms,
            })
    }
}
