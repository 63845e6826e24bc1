//! Streams: re-open a stream that fails before committed output, never after.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::classify::Classify;
use super::driver::{finish, read, Command, Driver, End, Event, Pending};
use super::future::DefaultSleep;
use super::notify::Notify;
use super::options::{AsPolicy, AttemptOutput, WithSleeper};
use super::retry_error::{Refusal, RetryError};
use super::retrying::{Fresh, Retrying};
use super::sleep::{MaybeSleeper, Sleeper};

/// Decides which item is the first committed output.
///
/// [`FirstItem`] (the default) commits on any item; any `FnMut(&I) -> bool` is one too.
///
/// ```
/// use redial::stream::{Commit, FirstItem};
/// assert!(Commit::<&str>::is_committed(&mut FirstItem, &"ping"));
/// let mut on_delta = |event: &&str| *event == "content_block_delta";
/// assert!(!on_delta.is_committed(&"ping"));
/// ```
pub trait Commit<I> {
    /// Whether yielding `item` commits the stream: no re-open after it.
    ///
    /// ```
    /// use redial::stream::Commit;
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
/// use redial::stream::{Commit, FirstItem};
/// assert!(Commit::<u8>::is_committed(&mut FirstItem, &0));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstItem;

impl<I> Commit<I> for FirstItem {
    fn is_committed(&mut self, _: &I) -> bool {
        true
    }
}

/// Streams: re-open a stream that fails before it has yielded committed output; never
/// retry one that fails after.
///
/// A streamed response (server-sent events from an LLM API, say) can fail twice over:
/// opening it can fail (a `429`, a `529`, a refused connection), and a stream that began
/// with `200` can fail part-way, with a transport error or an in-band `error` event. The
/// first kind is retried like any call. The second is retried only while nothing the
/// caller counts as *committed output* has been yielded: once text has reached the user, a
/// retry would show it twice, so the error is returned instead (marked
/// [`Refusal::AfterOutput`]).
///
/// What counts as committed is the caller's to say: by default the first item, and for an
/// SSE API typically the first content delta, so that a stream that sent `message_start`
/// and `ping` and then an `overloaded_error` event is re-opened. Items before the commit
/// point are yielded as they arrive (nothing is buffered), so after a re-open they may come
/// again: that is exactly why they must not count as committed.
///
/// ```
/// use futures_core::Stream;
/// use redial::retry_stream;
/// use redial::stream::StreamError;
/// use redial::{ErrorType, Policy, Preset};
///
/// // Stands in for an SSE connection: the first one is overloaded after a ping.
/// fn open_events(attempt: u32) -> impl Stream<Item = Result<&'static str, StreamError<std::io::Error>>> {
///     let events = if attempt == 1 {
///         vec![Ok("message_start"), Ok("ping"), Err(StreamError::Event(ErrorType::Overloaded.into()))]
///     } else {
///         vec![Ok("message_start"), Ok("content_block_delta"), Ok("message_stop")]
///     };
///     futures_util_stream_iter(events)
/// }
/// # fn futures_util_stream_iter<T: Unpin>(items: Vec<T>) -> impl Stream<Item = T> + Unpin {
/// #     struct Iter<T>(std::vec::IntoIter<T>);
/// #     impl<T: Unpin> Stream for Iter<T> {
/// #         type Item = T;
/// #         fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
/// #             std::task::Poll::Ready(self.0.next())
/// #         }
/// #     }
/// #     Iter(items.into_iter())
/// # }
///
/// let policy = Policy::preset(Preset::Anthropic);
/// let mut opened = 0;
/// let events = retry_stream(
///     &policy,
///     || { opened += 1; std::future::ready(Ok::<_, StreamError<std::io::Error>>(http::Response::new(opened))) },
///     |response| open_events(*response.body()),
/// )
/// .commit_when(|event: &&str| *event == "content_block_delta")
/// .sleeper(|_| std::future::ready(()));
///
/// let seen: Vec<_> = futures_executor::block_on_stream(Box::pin(events)).collect();
/// let names: Vec<_> = seen.iter().map(|e| *e.as_ref().unwrap()).collect();
/// assert_eq!(names, ["message_start", "ping", "message_start", "content_block_delta", "message_stop"]);
/// ```
///
/// # The call's accounting
///
/// Opening counts as an attempt; a stream that fails before its commit point counts as a
/// failed attempt and is re-opened if the policy allows. The machine hears the call
/// succeeded when the stream ends cleanly (so the budget's refund comes then); a stream
/// that is dropped part-way just stops. An error after the commit point is fed to the
/// machine as not retryable, and ends the stream with a [`RetryError`] that holds it.
///
/// Classification reads the opening result and every stream error as one attempt's
/// result, by default as an [`HttpOutcome`](crate::HttpOutcome). [`StreamError`](crate::stream::StreamError) joins a client's error and
/// in-band error events into one such type. The options are [`Retrying`]'s, shared by
/// every adapter; which item commits is this adapter's own.
///
/// Starts building a retried stream: `open` makes one attempt (sends the request) and
/// `into_stream` turns a successful response into the stream of items. Chain the options
/// ([`Retrying`]'s, and [`commit_when`](Retrying::commit_when)), then poll it: it is a
/// `Stream`.
///
/// The request is assumed not idempotent (say [`idempotent`](Retrying::idempotent) if it
/// is), so under the `default` preset an error event after a `200` is not retried: the
/// server had begun to act. The LLM-API presets retry it, as their `non_idempotent` is
/// `always`.
///
/// ```
/// use redial::retry_stream;
/// let policy = redial::Policy::default();
/// let stream = retry_stream(
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
/// # drop(stream);
/// ```
#[allow(clippy::type_complexity)]
pub fn retry_stream<P, Open, OpenFut, T, E, Into, St>(
    policy: P,
    open: Open,
    into_stream: Into,
) -> Fresh<StreamAttempts<Open, OpenFut, Into, St, FirstItem, DefaultSleep, P>, P>
where
    P: AsPolicy,
    Open: FnMut() -> OpenFut,
    OpenFut: Future<Output = Result<T, E>>,
    Into: FnMut(T) -> St,
{
    Retrying::start(
        policy,
        StreamAttempts {
            open,
            into_stream,
            commit: FirstItem,
            driver: Driver::default(),
            state: StreamState::Idle,
        },
    )
}

pin_project! {
    /// The stream adapter's part of a [`Retrying`] call: how to open the stream, how to
    /// read it, which item commits it, and where it stands.
    pub struct StreamAttempts<Open, OpenFut, Into, St, K, Sl, P> {
        open: Open,
        into_stream: Into,
        commit: K,
        driver: Driver<P>,
        #[pin]
        state: StreamState<OpenFut, St, Sl>,
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
        // Waiting before re-opening (a retry's delay, or the gate's hold).
        Sleeping { #[pin] sleep: Sl },
        // Ended (cleanly, or after yielding the final error).
        Done,
    }
}

impl<Open, OpenFut, Into, St, K, Sl, P, T, E> AttemptOutput
    for StreamAttempts<Open, OpenFut, Into, St, K, Sl, P>
where
    OpenFut: Future<Output = Result<T, E>>,
{
    type Ok = T;
    type Err = E;
}

impl<Open, OpenFut, Into, St, K, Sl, P, S2: MaybeSleeper> WithSleeper<S2>
    for StreamAttempts<Open, OpenFut, Into, St, K, Sl, P>
{
    type Output = StreamAttempts<Open, OpenFut, Into, St, K, S2::Sleep, P>;

    #[inline(always)]
    fn with_sleeper(self) -> Self::Output {
        StreamAttempts {
            open: self.open,
            into_stream: self.into_stream,
            commit: self.commit,
            driver: self.driver,
            state: StreamState::Idle,
        }
    }
}

impl<Open, OpenFut, Into, St, K, Sl, P, S, C, N>
    Retrying<StreamAttempts<Open, OpenFut, Into, St, K, Sl, P>, P, S, C, N>
{
    /// The first item for which `commit` says yes is committed output: no re-open after
    /// it.
    ///
    /// ```
    /// # use redial::retry_stream;
    /// # let policy = redial::Policy::default();
    /// # let stream = retry_stream(&policy, || std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))), |_: http::Response<()>| ());
    /// let stream = stream.commit_when(|event: &String| event.starts_with("content_block_delta"));
    /// # drop(stream);
    /// ```
    #[allow(clippy::type_complexity)]
    #[inline(always)]
    pub fn commit_when<K2>(
        self,
        commit: K2,
    ) -> Retrying<StreamAttempts<Open, OpenFut, Into, St, K2, Sl, P>, P, S, C, N> {
        let StreamAttempts {
            open,
            into_stream,
            driver,
            state,
            ..
        } = self.attempts;
        Retrying {
            options: self.options,
            sleeper: self.sleeper,
            attempts: StreamAttempts {
                open,
                into_stream,
                commit,
                driver,
                state,
            },
        }
    }
}

impl<Open, OpenFut, Into, T, E, St, I, K, P, S, C, N> Stream
    for Retrying<StreamAttempts<Open, OpenFut, Into, St, K, S::Sleep, P>, P, S, C, N>
where
    P: AsPolicy,
    Open: FnMut() -> OpenFut,
    OpenFut: Future<Output = Result<T, E>>,
    Into: FnMut(T) -> St,
    St: Stream<Item = Result<I, E>>,
    S: Sleeper,
    K: Commit<I>,
    C: Classify<T, E>,
    N: Notify,
{
    type Item = Result<I, RetryError<E, T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let (options, sleeper) = (this.options, &*this.sleeper);
        let (now, wall) = (|| sleeper.now(), || sleeper.wall());
        let parts = this.attempts.project();
        let (driver, mut state) = (parts.driver, parts.state);
        macro_rules! step {
            ($event:expr) => {
                read(driver, options, $event, now, wall)
            };
        }
        // The call is over: its final error, if it failed, is the stream's last item.
        macro_rules! end {
            ($end:expr, $last:expr) => {{
                state.set(StreamState::Done);
                let result = finish(driver, options, $end, $last, Duration::ZERO, now);
                return Poll::Ready(result.err().map(Err));
            }};
        }
        loop {
            let (result, committed) = match state.as_mut().project() {
                // `Due` answers an attempt, or a sleep first (the gate's hold, the pacer's slot).
                StreamProj::Idle => {
                    let next = match step!(Event::Due) {
                        Command::Sleep(delay) => sleeping(sleeper, delay),
                        Command::Attempt => StreamState::Opening {
                            fut: (parts.open)(),
                        },
                        command => end!(command.end(), None), // the rate pacer stopped it
                    };
                    state.set(next);
                    continue;
                }
                StreamProj::Opening { fut } => match fut.poll(cx) {
                    Poll::Ready(result) => (result, false),
                    Poll::Pending => return step!(Event::Pending(Pending::Attempt)).yielded(),
                },
                StreamProj::Streaming { stream, committed } => match ready!(stream.poll_next(cx)) {
                    Some(Ok(item)) => {
                        *committed = *committed || parts.commit.is_committed(&item);
                        return Poll::Ready(Some(Ok(item)));
                    }
                    None => {
                        // Over, and nothing failed: the budget refunds the retries.
                        let _ = step!(Event::Ended);
                        state.set(StreamState::Done);
                        return Poll::Ready(None);
                    }
                    Some(Err(e)) => (Err(e), *committed),
                },
                StreamProj::Sleeping { sleep } => match sleep.poll(cx) {
                    Poll::Ready(()) => {
                        state.set(StreamState::Idle);
                        continue;
                    }
                    Poll::Pending => return step!(Event::Pending(Pending::Sleep)).yielded(),
                },
                StreamProj::Done => return Poll::Ready(None),
            };
            // After committed output a retry would repeat it: the driver refuses it.
            let refuse = committed.then_some(Refusal::AfterOutput);
            match (step!(Event::Finished(Some(&result), refuse)), result) {
                (Command::Sleep(delay), result) => {
                    drop(result); // first: a response holds a connection
                    state.set(sleeping(sleeper, delay));
                }
                // An open that succeeded does not end the call: its stream's end will.
                (Command::Done(End::Succeeded), Ok(response)) if !committed => {
                    let stream = (parts.into_stream)(response);
                    let committed = false;
                    state.set(StreamState::Streaming { stream, committed });
                }
                // `Finished` answers a sleep or the end (the guard: nothing else).
                (command, result) => end!(command.end(), Some(result)),
            }
        }
    }
}

/// The wait before re-opening: `delay` on the sleeper's timer.
#[inline(always)]
fn sleeping<OpenFut, St, S: Sleeper>(
    sleeper: &S,
    delay: Duration,
) -> StreamState<OpenFut, St, S::Sleep> {
    StreamState::Sleeping {
        sleep: sleeper.sleep(delay),
    }
}

impl<Open, OpenFut, Into, St, K, Sl, P> fmt::Debug
    for StreamAttempts<Open, OpenFut, Into, St, K, Sl, P>
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
        f.debug_struct("StreamAttempts")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
