//! A small server-sent-events reader over reqwest's byte stream: events out, and an
//! `event: error` out as a `StreamError::Event` with the type its data names.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use redial::stream::{ErrorEvent, StreamError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

pub type Item = Result<SseEvent, StreamError<reqwest::Error>>;

pub struct Sse {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: String,
    done: bool,
}

impl Sse {
    pub fn new(response: reqwest::Response) -> Self {
        Sse {
            inner: Box::pin(response.bytes_stream()),
            buf: String::new(),
            done: false,
        }
    }
}

impl Stream for Sse {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim());
                    }
                }
                if event.event == "error" {
                    let error = ErrorEvent::read(event.data.as_bytes());
                    return Poll::Ready(Some(Err(StreamError::Event(error))));
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match ready!(self.inner.as_mut().poll_next(cx)) {
                Some(Ok(bytes)) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Some(Err(e)) => return Poll::Ready(Some(Err(StreamError::Call(e)))),
                None => self.done = true,
            }
        }
    }
}

/// Collects a stream's items (test helper; no futures-util needed).
pub async fn collect<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        items.push(item);
    }
    items
}
