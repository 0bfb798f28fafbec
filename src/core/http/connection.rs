//! A connection an exchange's requests go over, its reads metered so that no server can hold the
//! thread that runs the exchanges.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A byte stream a connection is made of: TCP, or TLS over it.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Most bytes one read hands hyper.
const READ_CAP: usize = 16 * 1024;
/// Bytes a connection may read without the socket running dry before its task yields.
const READ_BUDGET: usize = 64 * 1024;

/// A connection: to the server, or to an HTTP proxy that takes absolute-form requests.
///
/// Its reads are metered because hyper's HTTP/1 client parses and drops interim (1xx)
/// responses in a loop that reads again as long as the socket has data (`Io::parse` in
/// hyper's proto/h1), and tokio's cooperative budget counts reads (128 a turn), not the bytes
/// they bring: a server streaming `103 Early Hints` would hold the exchanges' worker thread for
/// hundreds of milliseconds at a time. So one read hands hyper at most `READ_CAP` bytes, and
/// after `READ_BUDGET` bytes without the socket running dry the task yields (as
/// `tokio::task::yield_now` does: the runtime polls its timers and sockets before running it
/// again), so deadlines, aborts and other connections keep their turn.
pub(crate) struct Conn {
    pub(crate) io: Box<dyn Stream>,
    pub(crate) proxied: bool,
    /// Bytes read since the socket last ran dry or the task last yielded.
    pub(crate) unyielded: usize,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.unyielded >= READ_BUDGET {
            this.unyielded = 0;
            let yielded = std::pin::pin!(tokio::task::yield_now()).poll(cx);
            debug_assert!(yielded.is_pending());
            return Poll::Pending;
        }
        // SAFETY: as hyper-util's `TokioIo` does: tokio's `ReadBuf` only ever initialises the
        // bytes it is given, and the cursor is advanced by exactly the bytes the read filled.
        let n = unsafe {
            let unfilled = buf.as_mut();
            let want = unfilled.len().min(READ_CAP);
            let mut read = ReadBuf::uninit(&mut unfilled[..want]);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => read.filled().len(),
                Poll::Pending => {
                    this.unyielded = 0;
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        };
        this.unyielded += n;
        // SAFETY: the read initialised these `n` bytes (above).
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
