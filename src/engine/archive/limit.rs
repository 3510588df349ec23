//! A reader that refuses to give more than a set number of bytes: an upload's size limit,
//! enforced while it streams.

use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, ReadBuf};

/// Reads `inner` until more than `max` bytes came, then fails (and says so in [`Limited::tripped`]).
pub struct Limited<R> {
    inner: R,
    left: u64,
    tripped: Arc<AtomicBool>,
}

impl<R> Limited<R> {
    /// `inner` limited to `max` bytes (`None`: no limit).
    pub fn new(inner: R, max: Option<u64>) -> Limited<R> {
        Limited {
            inner,
            left: max.unwrap_or(u64::MAX),
            tripped: Arc::default(),
        }
    }

    /// Set once the limit was passed (shared: it outlives the reader, which the archive owns).
    pub fn tripped(&self) -> Arc<AtomicBool> {
        self.tripped.clone()
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Limited<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let n = (buf.filled().len() - before) as u64;
            if n > self.left {
                self.tripped.store(true, Ordering::SeqCst);
                // what was read past the limit is not handed on
                buf.set_filled(before);
                return Poll::Ready(Err(std::io::Error::other(
                    "the upload size limit was passed",
                )));
            }
            self.left -= n;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn up_to_the_limit_reads_past_it_fails() {
        let data = vec![7u8; 100];
        let mut ok = Limited::new(data.as_slice(), Some(100));
        let mut out = Vec::new();
        ok.read_to_end(&mut out).await.unwrap();
        assert_eq!(out.len(), 100);
        assert!(!ok.tripped().load(Ordering::SeqCst));
        let mut over = Limited::new(data.as_slice(), Some(99));
        assert!(over.read_to_end(&mut Vec::new()).await.is_err());
        assert!(over.tripped().load(Ordering::SeqCst));
    }
}
