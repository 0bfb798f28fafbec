//! Connecting to a host by name: every address it resolves to, raced as Happy Eyeballs races them
//! (RFC 8305), so a host whose first address swallows packets is reached through the next one,
//! as Node reaches it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::connection::Stream;
use super::connector::Failure;

/// How long one address gets before the next is tried beside it (RFC 8305's "Connection Attempt
/// Delay"; Node's `autoSelectFamilyAttemptTimeout`, which civic-sip-api's `request` had on Node 20,
/// is 250 ms too).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// A TCP connection to `host:port`, through whichever of its addresses answers first.
pub(crate) async fn connect(host: &str, port: u16) -> Result<Box<dyn Stream>, Failure> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Failure::Dns(host.to_owned()))?
        .collect();
    let stream = connect_any(interleave_families(addresses))
        .await
        .map_err(|last| last.unwrap_or_else(|| Failure::Dns(host.to_owned())))?;
    // Best effort: Nagle only delays a lone small request.
    let _ = stream.set_nodelay(true);
    Ok(Box::new(stream))
}

/// The addresses alternating between IPv6 and IPv4, starting with the family the resolver put
/// first (RFC 8305, section 4), so an unreachable family costs one attempt delay, not all of its
/// addresses'.
fn interleave_families(addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addresses.first().is_some_and(SocketAddr::is_ipv6);
    let (mut preferred, mut other): (Vec<_>, Vec<_>) =
        addresses.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut ordered = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to the first of `addresses` that answers, as Happy Eyeballs does (RFC 8305): each
/// address gets `ATTEMPT_DELAY` alone, then the next one starts beside it, and a failure starts
/// the next one at once; the first connection made wins and the other attempts are dropped. A
/// host whose first address swallows packets (an IPv6 address that is not routed, a dead
/// load-balancer) is then reached through the next one, as Node reaches it. The error is the
/// last attempt's (`None` for no address at all).
async fn connect_any(addresses: Vec<SocketAddr>) -> Result<TcpStream, Option<Failure>> {
    let mut waiting = addresses.into_iter().peekable();
    let mut attempts = tokio::task::JoinSet::new();
    let mut last = None;
    loop {
        if attempts.is_empty() {
            // Nothing in flight: start the next address now, or give up.
            let Some(address) = waiting.next() else {
                return Err(last);
            };
            attempts.spawn(async move { (address, TcpStream::connect(address).await) });
        }
        tokio::select! {
            finished = attempts.join_next() => match finished {
                Some(Ok((_, Ok(stream)))) => return Ok(stream),
                Some(Ok((address, Err(e)))) => last = Some(Failure::Connect(e, address)),
                // A connect task cannot panic; were it cancelled, the next address is tried.
                Some(Err(_)) | None => {}
            },
            () = tokio::time::sleep(ATTEMPT_DELAY), if waiting.peek().is_some() => {
                if let Some(address) = waiting.next() {
                    attempts.spawn(async move { (address, TcpStream::connect(address).await) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_alternate_between_families_starting_with_the_resolvers_first() {
        let a = |text: &str| text.parse::<SocketAddr>().expect("address");
        let resolved = vec![a("[::1]:1"), a("[::2]:1"), a("[::3]:1"), a("10.0.0.1:1")];
        assert_eq!(
            interleave_families(resolved),
            vec![a("[::1]:1"), a("10.0.0.1:1"), a("[::2]:1"), a("[::3]:1")]
        );
        let resolved = vec![a("10.0.0.1:1"), a("10.0.0.2:1"), a("[::1]:1")];
        assert_eq!(
            interleave_families(resolved),
            vec![a("10.0.0.1:1"), a("[::1]:1"), a("10.0.0.2:1")]
        );
        assert_eq!(interleave_families(Vec::new()), Vec::<SocketAddr>::new());
    }

    /// A listener on 127.0.0.2 (loopback) whose accept queue is full, so a further connection
    /// attempt hangs (Linux drops its SYN) as one to an address that swallows packets would.
    async fn swallowing_address() -> (tokio::net::TcpListener, Vec<TcpStream>, SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.2:0".parse().expect("address"))
            .expect("bind");
        let address = socket.local_addr().expect("address");
        let listener = socket.listen(1).expect("listen");
        let mut queued = Vec::new();
        for _ in 0..8 {
            match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(address))
                .await
            {
                Ok(Ok(stream)) => queued.push(stream),
                _ => break,
            }
        }
        let hangs = tokio::time::timeout(Duration::from_millis(600), TcpStream::connect(address))
            .await
            .is_err();
        assert!(
            hangs,
            "the full accept queue should make a connection attempt hang"
        );
        (listener, queued, address)
    }

    #[tokio::test]
    async fn an_address_that_swallows_packets_costs_one_attempt_delay_not_the_connection() {
        let (_listener, _queued, swallowing) = swallowing_address().await;
        let answering = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let reachable = answering.local_addr().expect("address");
        let started = tokio::time::Instant::now();
        // Tried one after another, the first address would take the kernel's whole connect
        // timeout (about two minutes); the bound is far from both.
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            connect_any(vec![swallowing, reachable]),
        )
        .await
        .expect("the second address is tried while the first hangs")
        .map_err(|_| "no connection")
        .expect("connected");
        assert_eq!(stream.peer_addr().expect("peer"), reachable);
        assert!(
            started.elapsed() >= ATTEMPT_DELAY,
            "the first address had its turn alone"
        );
    }

    #[tokio::test]
    async fn when_every_address_refuses_the_last_refusal_is_the_error() {
        let mut closed = Vec::new();
        for _ in 0..2 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("listener");
            closed.push(listener.local_addr().expect("address"));
        }
        match connect_any(closed.clone()).await {
            Err(Some(Failure::Connect(e, at))) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
                assert_eq!(at, closed[1]);
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
        assert!(matches!(connect_any(Vec::new()).await, Err(None)));
    }
}
