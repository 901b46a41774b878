// Shared by the reconcile acceptance test and the binary's.
#![allow(dead_code)]
//! A Stripe account's objects from the events Stripe sent about them, for the fake Stripe API.

use serde_json::{json, Value};
use std::collections::HashMap;

/// The account's objects as Stripe's API lists them: the newest state of each, subscriptions
/// with their discounts expanded, invoices with their payments (`expand[]`). A connected
/// account's objects are not the platform's: its key does not list them.
pub fn objects(events: &[Value]) -> Vec<(&'static str, Value)> {
    let mut order: Vec<(&'static str, String)> = Vec::new();
    let mut latest: HashMap<String, Value> = HashMap::new();
    let mut discounts: HashMap<String, Value> = HashMap::new();
    let mut invoice_payments: HashMap<String, Vec<Value>> = HashMap::new();
    for event in events {
        if event["account"].is_string() {
            continue;
        }
        let object = &event["data"]["object"];
        let collection = match object["object"].as_str().unwrap_or_default() {
            "checkout.session" => "checkout/sessions",
            "invoice" => "invoices",
            "subscription" => "subscriptions",
            "charge" => "charges",
            "refund" => "refunds",
            "dispute" => "disputes",
            "discount" => {
                discounts.insert(object["id"].as_str().unwrap().to_owned(), object.clone());
                continue;
            }
            "invoice_payment" => {
                let invoice = object["invoice"].as_str().unwrap().to_owned();
                invoice_payments
                    .entry(invoice)
                    .or_default()
                    .push(object.clone());
                continue;
            }
            other => panic!("unexpected object {other}"),
        };
        let id = object["id"].as_str().unwrap().to_owned();
        let mut object = object.clone();
        match latest.get(&id) {
            // Objects that carry no `created` of their own keep their first event's.
            Some(old) if object.get("created").is_none() => {
                object["created"] = old["created"].clone()
            }
            Some(_) => {}
            None => {
                order.push((collection, id.clone()));
                if object.get("created").is_none() {
                    object["created"] = event["created"].clone();
                }
            }
        }
        latest.insert(id, object);
    }
    order
        .into_iter()
        .map(|(collection, id)| {
            let mut object = latest.remove(&id).unwrap();
            if collection == "invoices" {
                let paid = invoice_payments.remove(&id).unwrap_or_default();
                object["payments"] = json!({"object": "list", "has_more": false, "data": paid});
            }
            if let Some(ids) = object["discounts"].as_array_mut() {
                for d in ids.iter_mut() {
                    if let Some(expanded) = d.as_str().and_then(|id| discounts.get(id)) {
                        *d = expanded.clone();
                    }
                }
            }
            (collection, object)
        })
        .collect()
}
