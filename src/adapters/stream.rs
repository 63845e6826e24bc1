//! Streams: re-open a stream that fails before it has yielded committed output; never
//! retry one that fails after.
//!
//! A streamed response (server-sent events from an LLM API, say) can fail twice over:
//! opening it can fail (a `429`, a `529`, a refused connection), and a stream that began
//! with `200` can fail part-way, with a transport error or an in-band `error` event. The
//! first kind is retried like any call. The second is retried only while nothing the
//! caller counts as *committed output* has been yielded: once text has reached the user, a
//! retry would show it twice, so the error is returned instead (marked
//! [`Refusal::AfterOutput`]).
//!
//! What counts as committed is the caller's to say: by default the first item, and for an
//! SSE API typically the first content delta, so that a stream that sent `message_start`
//! and `ping` and then an `overloaded_error` event is re-opened. Items before the commit
//! point are yielded as they arrive (nothing is buffered), so after a re-open they may come
//! again: that is exactly why they must not count as committed.
//!
//! ```
//! use futures_core::Stream;
//! use redial::adapters::stream::{retry_stream, StreamError};
//! use redial::{ErrorType, Policy, Preset};
//!
//! // Stands in for an SSE connection: the first one is overloaded after a ping.
//! fn open_events(attempt: u32) -> impl Stream<Item = Result<&'static str, StreamError<std::io::Error>>> {
//!     let events = if attempt == 1 {
//!         vec![Ok("message_start"), Ok("ping"), Err(StreamError::Event(ErrorType::Overloaded))]
//!     } else {
//!         vec![Ok("message_start"), Ok("content_block_delta"), Ok("message_stop")]
//!     };
//!     futures_util_stream_iter(events)
//! }
//! # fn futures_util_stream_iter<T: Unpin>(items: Vec<T>) -> impl Stream<Item = T> + Unpin {
//! #     struct Iter<T>(std::vec::IntoIter<T>);
//! #     impl<T: Unpin> Stream for Iter<T> {
//! #         type Item = T;
//! #         fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
//! #             std::task::Poll::Ready(self.0.next())
//! #         }
//! #     }
//! #     Iter(items.into_iter())
//! # }
//!
//! let policy = Policy::preset(Preset::Anthropic);
//! let mut opened = 0;
//! let events = retry_stream(
//!     &policy,
//!     || { opened += 1; std::future::ready(Ok::<_, StreamError<std::io::Error>>(http::Response::new(opened))) },
//!     |response| open_events(*response.body()),
//! )
//! .commit_when(|event: &&str| *event == "content_block_delta")
//! .sleeper(|_| std::future::ready(()))
//! .build();
//!
//! let seen: Vec<_> = futures_executor::block_on_stream(Box::pin(events)).collect();
//! let names: Vec<_> = seen.iter().map(|e| *e.as_ref().unwrap()).collect();
//! assert_eq!(names, ["message_start", "ping", "message_start", "content_block_delta", "message_stop"]);
//! ```
//!
//! # The call's accounting
//!
//! Opening counts as an attempt; a stream that fails before its commit point counts as a
//! failed attempt and is re-opened if the policy allows. The machine hears the call
//! succeeded when the stream ends cleanly (so the budget's refund comes then); a stream
//! that is dropped part-way just stops. An error after the commit point is fed to the
//! machine as not retryable, and ends the stream with a [`RetryError`] that holds it.
//!
//! Classification reads the opening result and every stream error as an
//! [`HttpOutcome`]. [`StreamError`] joins a client's error and in-band error events into
//! one such type.

use core::borrow::Borrow;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use fastrand::Rng;
use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::classify::{Outcome, RequestFacts};
use crate::machine::Rules;
use crate::policy::Policy;
use crate::verdict::{Cause, ErrorType, Verdict};

use super::driver::{Driver, Step};
use super::error::{Last, Refusal, RetryError};
use super::hooks::{Event, HttpClassify, NoNotify, Notify};
use super::outcome::HttpOutcome;
use super::sleep::{DefaultSleeper, Sleeper};

/// An error inside a stream: the client's own error, or an in-band `error` event (an SSE
/// `event: error` whose data names an [`ErrorType`]).
///
/// ```
/// use redial::adapters::{stream::StreamError, HttpOutcome};
/// use redial::{ErrorType, Outcome};
///
/// let event: StreamError<std::io::Error> = StreamError::Event(ErrorType::Overloaded);
/// assert!(matches!(event.outcome(), Outcome::Response { error_type: Some(ErrorType::Overloaded), .. }));
/// assert_eq!(event.to_string(), "error event: overloaded_error");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// The client failed (opening, or reading the stream).
    #[error(transparent)]
    Call(E),
    /// The stream carried an error event of this type.
    #[error("error event: {0}")]
    Event(ErrorType),
}

impl<E: HttpOutcome> HttpOutcome for StreamError<E> {
    fn outcome(&self) -> Outcome<'_> {
        match self {
            StreamError::Call(e) => e.outcome(),
            StreamError::Event(t) => t.outcome(),
        }
    }

    fn request_id(&self) -> Option<&str> {
        match self {
            StreamError::Call(e) => e.request_id(),
            StreamError::Event(_) => None,
        }
    }
}

/// Decides which item is the first committed output.
///
/// [`FirstItem`] (the default) commits on any item; any `FnMut(&I) -> bool` is one too.
///
/// ```
/// use redial::adapters::stream::{Commit, FirstItem};
/// assert!(Commit::<&str>::is_committed(&mut FirstItem, &"ping"));
/// let mut on_delta = |event: &&str| *event == "content_block_delta";
/// assert!(!on_delta.is_committed(&"ping"));
/// ```
pub trait Commit<I> {
    /// Whether yielding `item` commits the stream: no re-open after it.
    ///
    /// ```
    /// use redial::adapters::stream::Commit;
    /// let mut on_text = |event: &&str| event.starts_with("content");
    /// assert!(on_text.is_committed(&"content_block_delta"));
    /// ```
    fn is_committed(&mut self, item: &I) -> bool;
}

impl<I, F: FnMut(&I) -> bool> Commit<I> for F {
    fn is_committed(&mut self, item: &I) -> bool {
        self(item)
    }
}

/// Commits on the first item: the default.
///
/// ```
/// use redial::adapters::stream::{Commit, FirstItem};
/// assert!(Commit::<u8>::is_committed(&mut FirstItem, &0));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstItem;

impl<I> Commit<I> for FirstItem {
    fn is_committed(&mut self, _: &I) -> bool {
        true
    }
}

/// Starts building a retried stream: `open` makes one attempt (sends the request) and
/// `into_stream` turns a successful response into the stream of items. See the
/// [module docs](self).
///
/// The request is assumed not idempotent (say [`idempotent`](RetryStreamBuilder::idempotent)
/// if it is), so under the `default` preset an error event after a `200` is not retried:
/// the server had begun to act. The LLM-API presets retry it, as their `non_idempotent` is
/// `always`.
///
/// ```
/// use redial::adapters::stream::retry_stream;
/// let policy = redial::Policy::default();
/// let builder = retry_stream(
///     &policy,
///     || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))),
///     |_response| futures_stream_empty(),
/// );
/// # fn futures_stream_empty() -> impl futures_core::Stream<Item = Result<u8, std::io::Error>> {
/// #     struct Empty;
/// #     impl futures_core::Stream for Empty {
/// #         type Item = Result<u8, std::io::Error>;
/// #         fn poll_next(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> { std::task::Poll::Ready(None) }
/// #     }
/// #     Empty
/// # }
/// # drop(builder);
/// ```
pub fn retry_stream<P, Open, OpenFut, T, E, Into, St>(
    policy: P,
    open: Open,
    into_stream: Into,
) -> RetryStreamBuilder<P, Open, Into, DefaultSleeper, FirstItem, NoNotify>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    Open: FnMut() -> OpenFut,
    OpenFut: Future<Output = Result<T, E>>,
    Into: FnMut(T) -> St,
{
    RetryStreamBuilder {
        policy,
        open,
        into_stream,
        sleeper: DefaultSleeper::default(),
        commit: FirstItem,
        notify: NoNotify,
        facts: RequestFacts::idempotent(false),
        rng: None,
    }
}

/// A retried stream being set up: chain its options, then [`build`](Self::build) it.
#[must_use = "a retried stream does nothing until built and polled"]
#[derive(Debug)]
pub struct RetryStreamBuilder<P, Open, Into, S, K, N> {
    policy: P,
    open: Open,
    into_stream: Into,
    sleeper: S,
    commit: K,
    notify: N,
    facts: RequestFacts,
    rng: Option<Rng>,
}

impl<P, Open, Into, S, K, N> RetryStreamBuilder<P, Open, Into, S, K, N> {
    /// Waits between attempts with this [`Sleeper`] (and reads its clock).
    ///
    /// ```
    /// # use redial::adapters::{stream::retry_stream, TokioSleeper};
    /// # let policy = redial::Policy::default();
    /// # let builder = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let builder = builder.sleeper(TokioSleeper);
    /// # drop(builder);
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryStreamBuilder<P, Open, Into, S2, K, N> {
        RetryStreamBuilder {
            policy: self.policy,
            open: self.open,
            into_stream: self.into_stream,
            sleeper,
            commit: self.commit,
            notify: self.notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    /// The first item for which `commit` says yes is committed output: no re-open after
    /// it.
    ///
    /// ```
    /// # use redial::adapters::stream::retry_stream;
    /// # let policy = redial::Policy::default();
    /// # let builder = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let builder = builder.commit_when(|event: &String| event.starts_with("content_block_delta"));
    /// # drop(builder);
    /// ```
    pub fn commit_when<K2>(self, commit: K2) -> RetryStreamBuilder<P, Open, Into, S, K2, N> {
        RetryStreamBuilder {
            policy: self.policy,
            open: self.open,
            into_stream: self.into_stream,
            sleeper: self.sleeper,
            commit,
            notify: self.notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    /// Calls `notify` before each re-open's wait.
    ///
    /// ```
    /// # use redial::adapters::stream::retry_stream;
    /// # let policy = redial::Policy::default();
    /// # let builder = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let builder = builder.notify(|event| eprintln!("{event}"));
    /// # drop(builder);
    /// ```
    pub fn notify<F>(self, notify: F) -> RetryStreamBuilder<P, Open, Into, S, K, F>
    where
        F: FnMut(&Event<'_>),
    {
        RetryStreamBuilder {
            policy: self.policy,
            open: self.open,
            into_stream: self.into_stream,
            sleeper: self.sleeper,
            commit: self.commit,
            notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    /// What is known about the request; the default is a request that is not idempotent.
    ///
    /// ```
    /// # use redial::adapters::stream::retry_stream;
    /// # let policy = redial::Policy::default();
    /// # let builder = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let builder = builder.facts(redial::RequestFacts::new(&http::Method::GET));
    /// # drop(builder);
    /// ```
    pub fn facts(mut self, facts: RequestFacts) -> Self {
        self.facts = facts;
        self
    }

    /// The request is idempotent: it may be re-opened after any retryable failure.
    ///
    /// ```
    /// # use redial::adapters::stream::retry_stream;
    /// # let policy = redial::Policy::default();
    /// # let builder = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let builder = builder.idempotent();
    /// # drop(builder);
    /// ```
    pub fn idempotent(self) -> Self {
        self.facts(RequestFacts::idempotent(true))
    }

    /// Draws the jitter from this generator instead of a freshly seeded one.
    ///
    /// ```
    /// # use redial::adapters::stream::retry_stream;
    /// # let policy = redial::Policy::default();
    /// # let builder = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let builder = builder.rng(fastrand::Rng::with_seed(5));
    /// # drop(builder);
    /// ```
    pub fn rng(mut self, rng: Rng) -> Self {
        self.rng = Some(rng);
        self
    }

    /// The stream.
    ///
    /// ```
    /// # use redial::adapters::stream::retry_stream;
    /// # let policy = redial::Policy::default();
    /// let stream = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ())
    ///     .sleeper(|_| std::future::ready(()))
    ///     .build();
    /// # drop(stream);
    /// ```
    pub fn build<OpenFut, T, E, St>(self) -> RetryStream<P, Open, Into, OpenFut, St, S, K, N>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone,
        Open: FnMut() -> OpenFut,
        OpenFut: Future<Output = Result<T, E>>,
        Into: FnMut(T) -> St,
        S: Sleeper,
    {
        RetryStream {
            open: self.open,
            into_stream: self.into_stream,
            sleeper: self.sleeper,
            commit: self.commit,
            driver: Driver::new(self.policy, self.facts, HttpClassify, self.notify, self.rng),
            state: StreamState::Idle,
        }
    }
}

pin_project! {
    /// A stream that re-opens itself while it has yielded nothing committed. Its items are
    /// the inner stream's, or, once, the call's [`RetryError`], after which it ends.
    #[must_use = "streams do nothing unless polled"]
    pub struct RetryStream<P, Open, Into, OpenFut, St, S, K, N>
    where
        S: Sleeper,
    {
        open: Open,
        into_stream: Into,
        sleeper: S,
        commit: K,
        driver: Driver<P, HttpClassify, N>,
        #[pin]
        state: StreamState<OpenFut, St, S::Sleep>,
    }
}

pin_project! {
    #[project = StreamProj]
    enum StreamState<OpenFut, St, Sl> {
        // About to open: the first time, or after a wait.
        Idle,
        // Sending the request.
        Opening { #[pin] fut: OpenFut },
        // Reading the stream; `committed` once committed output was yielded.
        Streaming { #[pin] stream: St, committed: bool },
        // Waiting before re-opening.
        Sleeping { #[pin] sleep: Sl },
        // Ended (cleanly, or after yielding the final error).
        Done,
    }
}

impl<P, Open, Into, OpenFut, T, E, St, I, S, K, N> Stream
    for RetryStream<P, Open, Into, OpenFut, St, S, K, N>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    Open: FnMut() -> OpenFut,
    OpenFut: Future<Output = Result<T, E>>,
    T: HttpOutcome,
    E: HttpOutcome,
    Into: FnMut(T) -> St,
    St: Stream<Item = Result<I, E>>,
    S: Sleeper,
    K: Commit<I>,
    N: Notify,
{
    type Item = Result<I, RetryError<E, T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StreamProj::Idle => {
                    this.driver.begin(|| this.sleeper.now());
                    let fut = (this.open)();
                    this.state.set(StreamState::Opening { fut });
                }
                StreamProj::Opening { fut } => {
                    let result = ready!(fut.poll(cx));
                    let now = this.sleeper.now();
                    let verdict = this
                        .driver
                        .context(this.sleeper.wall())
                        .verdict(&result.outcome());
                    // An open that succeeded is not the end of the call: the machine hears
                    // of it when the stream ends or fails.
                    let result = match (verdict.is_success(), result) {
                        (true, Ok(response)) => {
                            let stream = (this.into_stream)(response);
                            this.state.set(StreamState::Streaming {
                                stream,
                                committed: false,
                            });
                            continue;
                        }
                        (_, result) => result,
                    };
                    match this.driver.observe(&verdict, result.request_id(), || now) {
                        Step::Retry(delay) => {
                            drop(result);
                            let sleep = this.sleeper.sleep(delay);
                            this.state.set(StreamState::Sleeping { sleep });
                        }
                        Step::Stop(stop) => {
                            this.state.set(StreamState::Done);
                            let last = match result {
                                Ok(response) => Last::Response(response),
                                Err(e) => Last::Error(e),
                            };
                            return Poll::Ready(Some(Err(this
                                .driver
                                .error(stop, last, None, now))));
                        }
                    }
                }
                StreamProj::Streaming { stream, committed } => {
                    let item = ready!(stream.poll_next(cx));
                    let now = this.sleeper.now();
                    match item {
                        Some(Ok(item)) => {
                            if !*committed && this.commit.is_committed(&item) {
                                *committed = true;
                            }
                            return Poll::Ready(Some(Ok(item)));
                        }
                        None => {
                            // The call is over and nothing failed: the machine hears of the
                            // success (and the budget refunds the retries).
                            let _ = this.driver.observe(&Verdict::Success, None, || now);
                            this.state.set(StreamState::Done);
                            return Poll::Ready(None);
                        }
                        Some(Err(e)) => {
                            let verdict = this
                                .driver
                                .context(this.sleeper.wall())
                                .verdict(&e.outcome());
                            let after_output = *committed;
                            // After committed output a retry would repeat it: the adapter
                            // tells the machine the failure is not retryable.
                            let verdict = if after_output {
                                not_retryable(&verdict)
                            } else {
                                verdict
                            };
                            match this.driver.observe(&verdict, e.request_id(), || now) {
                                Step::Retry(delay) => {
                                    drop(e);
                                    let sleep = this.sleeper.sleep(delay);
                                    this.state.set(StreamState::Sleeping { sleep });
                                }
                                Step::Stop(stop) => {
                                    this.state.set(StreamState::Done);
                                    let refusal = after_output.then_some(Refusal::AfterOutput);
                                    let err = this.driver.error(stop, Last::Error(e), refusal, now);
                                    return Poll::Ready(Some(Err(err)));
                                }
                            }
                        }
                    }
                }
                StreamProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(StreamState::Idle);
                }
                StreamProj::Done => return Poll::Ready(None),
            }
        }
    }
}

/// The same failure, as one no retry may follow.
fn not_retryable(verdict: &Verdict) -> Verdict {
    Verdict::fatal(verdict.cause().copied().unwrap_or_else(Cause::caller))
}

impl<P, Open, Into, OpenFut, St, S: Sleeper, K, N> fmt::Debug
    for RetryStream<P, Open, Into, OpenFut, St, S, K, N>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            StreamState::Idle => "idle",
            StreamState::Opening { .. } => "opening",
            StreamState::Streaming {
                committed: false, ..
            } => "streaming",
            StreamState::Streaming {
                committed: true, ..
            } => "streaming, committed",
            StreamState::Sleeping { .. } => "sleeping",
            StreamState::Done => "done",
        };
        f.debug_struct("RetryStream")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
