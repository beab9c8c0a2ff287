//! At most `server.max_requests_per_client` requests of one client address
//! in flight at once; more are answered 429 at once and their connection
//! closed. With the body deadline this bounds what one client can hold:
//! stalled requests from one address cannot take every file descriptor
//! while others wait. The address is `auth::client_ip` (the real client
//! behind `server.trusted_proxies`).

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use dashmap::DashMap;

use crate::error::{AppError, ErrorCode};

/// Requests in flight per client address.
pub struct ClientSlots {
    in_flight: DashMap<IpAddr, usize>,
    limit: usize,
}

/// One request's slot, given back on drop.
pub struct Slot {
    slots: Arc<ClientSlots>,
    ip: IpAddr,
}

impl ClientSlots {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: DashMap::new(),
            limit: limit.max(1),
        })
    }

    /// A slot for `ip`, or `None` when it has `limit` requests in flight.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut count = self.in_flight.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            ip,
        })
    }

    /// Addresses with a request in flight.
    pub fn tracked(&self) -> usize {
        self.in_flight.len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Last one out removes the address: the map holds only the busy.
        self.slots.in_flight.remove_if_mut(&self.ip, |_, count| {
            *count -= 1;
            *count == 0
        });
    }
}

pub async fn limit(
    slots: Arc<ClientSlots>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(ip) = super::auth::client_ip(req.request()) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(_slot) = slots.take(ip) else {
        let error = AppError::new(
            ErrorCode::RateLimited,
            "Too many requests at once from your address; try again in a moment.",
        )
        .with_header(actix_web::http::header::RETRY_AFTER, "1".to_owned());
        return Ok(req.into_response(super::errors::closing_response(&error)));
    };
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_limit_of_slots_and_gives_them_back() {
        let slots = ClientSlots::new(2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = slots.take(a).unwrap();
        let second = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "a third at once is refused");
        assert!(slots.take(b).is_some(), "another address is not");
        drop(first);
        let third = slots.take(a).expect("a slot given back is free again");
        drop((second, third));
        assert_eq!(slots.tracked(), 0, "idle addresses are forgotten");
    }
}
