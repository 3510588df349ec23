//! Limits on how long a client may hold a connection without sending a request, so that
//! half-open and idle connections cannot pile up: HTTP/1 must send a request's whole header
//! within [`HEADER_READ_TIMEOUT`] (also while a kept-alive connection waits for its next
//! request), HTTP/2 connections are pinged and closed when they stop answering, a connection
//! that has not shown within [`HEADER_READ_TIMEOUT`] which protocol it speaks is closed, and at
//! most [`MAX_CONNECTIONS`] are served at once.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum_server::accept::Accept;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore},
};

/// How long a client has to send a request's header (and a kept-alive HTTP/1 connection may
/// sit idle between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// How often an HTTP/2 connection is pinged.
pub const H2_PING_EVERY: Duration = Duration::from_secs(30);
/// How long an HTTP/2 ping may go unanswered before the connection is closed.
pub const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// The most connections served at once; a connection beyond is closed as it arrives.
pub const MAX_CONNECTIONS: usize = 1024;

/// The HTTP/2 connection preface: until a client has sent it (or a byte that differs from it),
/// the server cannot tell HTTP/1 from HTTP/2 and no protocol timeout applies yet.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Sets the timeouts above on a server's HTTP/1 and HTTP/2 connections.
pub fn apply(builder: &mut hyper_util::server::conn::auto::Builder<TokioExecutor>) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_EVERY)
        .keep_alive_timeout(H2_PING_TIMEOUT);
}

/// An acceptor that serves at most a number of connections at once and wraps each (after
/// `inner`, e.g. the TLS handshake, which has its own timeout) in a [`FirstBytesDeadline`].
#[derive(Debug, Clone)]
pub struct DeadlineAcceptor<A> {
    inner: A,
    slots: Arc<Semaphore>,
}

impl<A> DeadlineAcceptor<A> {
    /// Wraps `inner`, with at most [`MAX_CONNECTIONS`] at once.
    pub fn new(inner: A) -> Self {
        Self::with_limit(inner, MAX_CONNECTIONS)
    }

    /// Wraps `inner`, with at most `max` connections at once.
    pub fn with_limit(inner: A, max: usize) -> Self {
        DeadlineAcceptor {
            inner,
            slots: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<A, I, S> Accept<I, S> for DeadlineAcceptor<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = FirstBytesDeadline<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            // dropping the stream closes it
            tracing::debug!("{MAX_CONNECTIONS} connections open: closing a new one");
            return Box::pin(std::future::ready(Err(io::Error::other(
                "too many connections",
            ))));
        };
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            let mut stream = FirstBytesDeadline::new(stream, HEADER_READ_TIMEOUT);
            stream.slot = Some(slot);
            Ok((stream, service))
        })
    }
}

/// A connection that must show which protocol it speaks before a deadline: until its first
/// bytes are the HTTP/2 preface, or differ from it (HTTP/1, whose header-read timeout then
/// applies), a read still waiting at the deadline fails, which closes the connection.
#[derive(Debug)]
pub struct FirstBytesDeadline<S> {
    inner: S,
    /// Until the protocol is known.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How many bytes of the preface it has sent so far.
    matched: usize,
    /// Its place among the connections served at once, given back when it closes.
    slot: Option<OwnedSemaphorePermit>,
}

impl<S> FirstBytesDeadline<S> {
    /// `inner`, which must show its protocol within `within`.
    pub fn new(inner: S, within: Duration) -> Self {
        FirstBytesDeadline {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
            matched: 0,
            slot: None,
        }
    }

    /// Looks at bytes read; drops the deadline once the protocol is known.
    fn saw(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if H2_PREFACE.get(self.matched) != Some(&b) {
                self.deadline = None;
                return;
            }
            self.matched += 1;
            if self.matched == H2_PREFACE.len() {
                self.deadline = None;
                return;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytesDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if this.deadline.is_some() {
                    this.saw(buf.filled().get(before..).unwrap_or_default());
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    tracing::debug!("closing a connection that sent no request in time");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the header-read timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytesDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum_server::accept::DefaultAcceptor;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_beyond_the_limit_are_refused_until_one_closes() {
        let acceptor = DeadlineAcceptor::with_limit(DefaultAcceptor::new(), 2);
        let conn = || tokio::io::duplex(64).1;
        let first = acceptor.accept(conn(), ()).await.unwrap();
        let _second = acceptor.accept(conn(), ()).await.unwrap();
        assert!(acceptor.accept(conn(), ()).await.is_err());
        drop(first);
        assert!(acceptor.accept(conn(), ()).await.is_ok());
    }

    #[tokio::test]
    async fn a_silent_or_preface_stalling_connection_fails_and_http1_is_let_through() {
        for (sent, times_out) in [
            (&b""[..], true),
            (&b"PRI * HT"[..], true),
            (&b"GET /api/v1/hel"[..], false),
            (H2_PREFACE, false),
        ] {
            let (client, server) = tokio::io::duplex(1024);
            let mut conn = FirstBytesDeadline::new(server, Duration::from_millis(200));
            let mut client = client;
            client.write_all(sent).await.unwrap();
            let mut got = vec![0u8; sent.len()];
            if !sent.is_empty() {
                conn.read_exact(&mut got).await.unwrap();
            }
            let mut more = [0u8; 1];
            let r = tokio::time::timeout(Duration::from_millis(600), conn.read(&mut more)).await;
            match r {
                Ok(Err(e)) => {
                    assert!(times_out, "{sent:?}: {e}");
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
                }
                Err(_) => assert!(!times_out, "{sent:?} was not closed"),
                Ok(Ok(n)) => panic!("{sent:?}: read {n} bytes"),
            }
        }
    }
}
