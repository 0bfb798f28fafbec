//! HTTP: the exchange's two calls (`client`), over hyper-util's pooled client (`pool`) and
//! connections made here (`connector`, `connect`, `tunnel`, `connection`), with rustls (`tls`),
//! proxies chosen as `request` chose them (`proxy`), request targets as written
//! (`request_target`), and failures in Node's words (`failure`).

pub(crate) mod client;
pub(crate) mod connect;
pub(crate) mod connection;
pub(crate) mod connector;
pub(crate) mod failure;
pub(crate) mod pool;
pub(crate) mod proxy;
pub(crate) mod request_target;
pub mod tls;
pub(crate) mod tunnel;

pub(crate) use client::{Http, Reply};
