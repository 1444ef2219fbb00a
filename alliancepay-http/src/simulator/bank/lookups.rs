//! H2H operation lookups by operation id or by `merchantRequestId` (bank-api.md §3.5).

use super::*;

impl Bank {
    /// `POST …/payments/v1/operations` and `…/operation/by_merchant_request_id` (§3.5).
    pub(super) fn lookup(&self, request: &Request, caller: &Caller, ctx: &Ctx<'_>) -> Response {
        let body = match Self::decrypt_body(request, caller) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let by_id = request.path == OPERATION_BY_ID_PATH;
        let key = match validate::lookup_key(&body, if by_id { "id" } else { "merchantRequestId" })
        {
            Ok(k) => k,
            Err(e) => return ctx.invalid(&e),
        };
        let record = {
            let state = lock(&self.state);
            let id = if by_id {
                Some(&key)
            } else {
                state
                    .operation_request_ids
                    .get(&(caller.merchant_id.clone(), key))
            };
            match id
                .and_then(|id| state.operations.get(id))
                .filter(|op| op.merchant_id == caller.merchant_id)
            {
                Some(op) => Value::Object(op.record.clone()),
                None => return ctx.error("b_operation_not_found"),
            }
        };
        encrypted(&caller.merchant_key, &record, ctx)
    }
}
