//! Async retry on any executor: the retry future, a hand-written state machine.

use core::fmt;
use core::future::Future;
use core::num::NonZeroU64;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use pin_project_lite::pin_project;

use super::classify::Classify;
use super::driver::{finish, read, Command, Driver, Event, Pending};
use super::notify::Notify;
use super::options::{AsPolicy, AttemptOutput, Options, WithSleeper};
use super::retry_error::RetryError;
use super::retrying::{Fresh, Retrying};
use super::sleep::{DefaultSleeper, MaybeSleeper, Sleeper};
#[cfg(doc)]
use crate::classify::RequestFacts;

/// The wait of the [`DefaultSleeper`], in the types of a call that has not chosen one.
pub type DefaultSleep = <DefaultSleeper as MaybeSleeper>::Sleep;

/// Async retry on any executor: a hand-written future, no boxing, no runtime in its type.
///
/// Call `.retry(&policy)` on the operation itself: any `FnMut() -> impl Future<Output =
/// Result<T, E>>`. The chained calls that follow are all optional, then `.await`:
///
/// ```
/// use std::time::Duration;
/// use redial::Retryable;
/// use redial::sleep::TokioSleeper;
/// use redial::{Policy, Transport};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let policy = Policy::default();
/// let mut refusals = 2;
/// // Stands in for `client.get(url).send()`: refused twice, then a 200.
/// let send = || {
///     let refused = refusals > 0;
///     refusals -= 1;
///     async move {
///         if refused { Err(Transport::Connect) } else { Ok(http::Response::new("hello")) }
///     }
/// };
///
/// let response = send
///     .retry(&policy)
///     .sleeper(TokioSleeper)
///     .notify(|event| println!("{event}"))
///     .attempt_timeout(Duration::from_secs(10))
///     .await
///     .expect("the third attempt succeeds");
/// assert_eq!(*response.body(), "hello");
/// # }
/// ```
///
/// - `.sleeper(s)`: the timer ([`Sleeper`]); defaults to [`DefaultSleeper`].
/// - `.classify(|result| verdict)`: decide results that are not HTTP; the default reads
///   them as HTTP outcomes ([`HttpOutcome`](crate::HttpOutcome)) through the policy's table.
/// - `.idempotent()` or `.facts(RequestFacts::new(&method))`: what is known about the
///   request. The adapter cannot see the request inside your closure, so it assumes the
///   worst, a request that is *not* idempotent (a POST): it is then retried only where the
///   policy's `non_idempotent` rule allows (by default only when the server cannot have
///   acted on it). Say `.idempotent()` for a GET, PUT or DELETE, or a request with an
///   `Idempotency-Key`.
/// - `.notify(|event| ..)`: hears about each retry before its wait ([`Event`](crate::Event)).
/// - `.attempt_timeout(d)`: cuts off an attempt after `d`, on the same sleeper; the attempt
///   counts as a transport timeout ([`Transport::Timeout`](crate::Transport::Timeout)),
///   retried where a timeout may be.
/// - `.rng(rng)`: a seeded generator for the jitter, for reproducible schedules.
///
/// The options are [`Retrying`]'s, shared by every adapter; the per-attempt timeout is
/// this adapter's own. The call is a `Future` itself, so any executor's `block_on` takes
/// it as it is.
///
/// The output is `Result<T, RetryError<E, T>>`: `Ok` only for a result the policy calls a
/// success, otherwise a [`RetryError`] that holds the last error, or the last response (a
/// `400`, or a `529` after the last attempt), with the reason it stopped.
///
/// # What the future guarantees
///
/// It is an explicit state machine (idle → attempting → sleeping → … → done) built with
/// `pin-project-lite`. It allocates nothing per attempt (the final error is one box), is
/// `Send` when its parts are, and `Unpin` when the operation's future and the sleep are.
/// Dropping it at any point is fine: mid-attempt it drops the attempt's future, mid-sleep
/// the timer, and nothing is left running. Polling it after it completed returns
/// `Poll::Pending` forever rather than panicking.
///
/// It reads the sleeper's clocks only when a decision needs them, since a read costs more
/// than the rest of a successful call: none for a call that succeeds at once; the
/// monotonic clock once to start the call, when it first waits (its first attempt, or a
/// wait after a failure, does not end at once), or earlier when a rule needs the time
/// (before the first attempt under a `max_elapsed` deadline, at the first failure for the
/// adaptive budget), then for the deadline, the adaptive budget and the final error; the
/// wall clock for a failed response only, whose hints may be dates.
///
/// # Operations that need `&mut` state
///
/// A future that borrows `&mut` state from its closure cannot be stored beside that
/// closure, so state travels by value: [`RetryableWithContext::retry_with`] hands a context
/// to each attempt and takes it back from its output.
///
/// ```
/// use redial::RetryableWithContext;
/// use redial::{Policy, Transport};
///
/// struct Conn { sent: u32 }
///
/// # futures_executor::block_on(async {
/// let policy = Policy::builder().base(std::time::Duration::from_millis(1)).build()?;
/// let (conn, result) = (|mut conn: Conn| async move {
///     conn.sent += 1;
///     let result = if conn.sent < 2 { Err(Transport::Reset) } else { Ok(http::Response::new(())) };
///     (conn, result)
/// })
/// .retry_with(&policy, Conn { sent: 0 })
/// .idempotent()
/// .sleeper(|d| futures_timer::Delay::new(d))
/// .await;
/// assert_eq!(conn.sent, 2);
/// assert!(result.is_ok());
/// # Ok::<(), redial::PolicyError>(())
/// # })?;
/// # Ok::<(), redial::PolicyError>(())
/// ```
///
/// Adds `.retry(policy)` to every `FnMut() -> impl Future<Output = Result<T, E>>`. See the
/// [docs](Retryable).
///
/// `policy` is a `&Policy`, or an owned [`Policy`](crate::Policy) for a future that must
/// be `'static` (one you spawn); a clone shares the budget, so both draw on the same
/// bucket.
///
/// ```
/// use redial::{Policy, Retryable};
///
/// let result = futures_executor::block_on(
///     (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
///         .retry(Policy::default())
///         .sleeper(|_| std::future::ready(())),
/// );
/// assert!(result.is_ok());
/// ```
pub trait Retryable<T, E, Fut>: Sized {
    /// Starts building a retried call under `policy`.
    fn retry<P: AsPolicy>(self, policy: P) -> Fresh<Attempts<Self, Fut, DefaultSleep, P>, P>;
}

impl<F, Fut, T, E> Retryable<T, E, Fut> for F
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    #[inline(always)]
    fn retry<P: AsPolicy>(self, policy: P) -> Fresh<Attempts<Self, Fut, DefaultSleep, P>, P> {
        Retrying::start(
            policy,
            Attempts {
                op: self,
                timeout: None,
                driver: Driver::default(),
                run: Run::Idle { context: () },
            },
        )
    }
}

/// Adds `.retry_with(policy, context)` to every `FnMut(Ctx) -> impl Future<Output = (Ctx,
/// Result<T, E>)>`: each attempt gets the context by value and gives it back, and the call
/// returns it with the result. See the [docs](Retryable#operations-that-need-mut-state).
///
/// There is no per-attempt timeout here: cutting an attempt off would drop the context
/// with its future. Put the timeout inside the operation.
///
/// ```
/// use redial::{Policy, RetryableWithContext};
///
/// # futures_executor::block_on(async {
/// let (buffer, result) = (|mut buffer: Vec<u8>| async move {
///     buffer.push(1);
///     (buffer, Ok::<_, std::io::Error>(http::Response::new(())))
/// })
/// .retry_with(&Policy::default(), Vec::new())
/// .sleeper(|_| std::future::ready(()))
/// .await;
/// assert_eq!((buffer, result.is_ok()), (vec![1], true));
/// # });
/// ```
pub trait RetryableWithContext<Ctx, T, E, Fut>: Sized {
    /// Starts building a retried call under `policy`, with `context` for the first attempt.
    fn retry_with<P: AsPolicy>(
        self,
        policy: P,
        context: Ctx,
    ) -> Fresh<AttemptsWithContext<Self, Ctx, Fut, DefaultSleep, P>, P>;
}

impl<F, Fut, Ctx, T, E> RetryableWithContext<Ctx, T, E, Fut> for F
where
    F: FnMut(Ctx) -> Fut,
    Fut: Future<Output = (Ctx, Result<T, E>)>,
{
    #[inline(always)]
    fn retry_with<P: AsPolicy>(
        self,
        policy: P,
        context: Ctx,
    ) -> Fresh<AttemptsWithContext<Self, Ctx, Fut, DefaultSleep, P>, P> {
        Retrying::start(
            policy,
            AttemptsWithContext {
                op: self,
                driver: Driver::default(),
                run: Run::Idle { context },
            },
        )
    }
}

pin_project! {
    /// The async adapter's part of a [`Retrying`] call: the operation, the per-attempt
    /// timeout, and where the call stands (the step driver's state, and about to attempt,
    /// attempting, waiting, done).
    pub struct Attempts<Op, Fut, Sl, P> {
        op: Op,
        timeout: Option<NonZeroU64>,
        driver: Driver<P>,
        #[pin]
        run: Run<(), Fut, Sl>,
    }
}

pin_project! {
    /// As [`Attempts`], for an operation that takes a context and gives it back.
    pub struct AttemptsWithContext<Op, Ctx, Fut, Sl, P> {
        op: Op,
        driver: Driver<P>,
        #[pin]
        run: Run<Ctx, Fut, Sl>,
    }
}

pin_project! {
    /// Where a call is: about to make an attempt, waiting for one (and its timer), waiting
    /// before the next, or over. The context is held wherever no attempt holds it.
    #[project = RunProj]
    #[project_replace = RunReplace]
    enum Run<Ctx, Fut, Sl> {
        // The next attempt is due: the first one, or one whose wait is over.
        Idle { context: Ctx },
        // An attempt is running; `timer` cuts it off if a per-attempt timeout is set.
        Attempt {
            #[pin]
            fut: Fut,
            #[pin]
            timer: Option<Sl>,
        },
        // Waiting before the next attempt (a retry's delay, or the gate's hold).
        Sleep {
            #[pin]
            sleep: Sl,
            context: Ctx,
        },
        // The result was handed out (or, for an instant, the context is in flight).
        Done,
    }
}

impl<Ctx, Fut, Sl> Run<Ctx, Fut, Sl> {
    /// The context of a call that is idle or sleeping, which is then done (until the
    /// attempt or the sleep that takes it is set).
    #[inline(always)]
    fn take_context(self: Pin<&mut Self>) -> Option<Ctx> {
        match self.project_replace(Run::Done) {
            RunReplace::Idle { context } | RunReplace::Sleep { context, .. } => Some(context),
            _ => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Run::Idle { .. } => "idle",
            Run::Attempt { .. } => "attempting",
            Run::Sleep { .. } => "sleeping",
            Run::Done => "done",
        }
    }
}

impl<Op, Fut, Sl, P> fmt::Debug for Attempts<Op, Fut, Sl, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempts")
            .field("state", &self.run.name())
            .field("attempt_timeout", &self.timeout.map(ns))
            .finish_non_exhaustive()
    }
}

impl<Op, Ctx, Fut, Sl, P> fmt::Debug for AttemptsWithContext<Op, Ctx, Fut, Sl, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttemptsWithContext")
            .field("state", &self.run.name())
            .finish_non_exhaustive()
    }
}

impl<Op, Fut, Sl, P, T, E> AttemptOutput for Attempts<Op, Fut, Sl, P>
where
    Fut: Future<Output = Result<T, E>>,
{
    type Ok = T;
    type Err = E;
}

impl<Op, Ctx, Fut, Sl, P, T, E> AttemptOutput for AttemptsWithContext<Op, Ctx, Fut, Sl, P>
where
    Fut: Future<Output = (Ctx, Result<T, E>)>,
{
    type Ok = T;
    type Err = E;
}

impl<Op, Fut, Sl, P, S2: MaybeSleeper> WithSleeper<S2> for Attempts<Op, Fut, Sl, P> {
    type Output = Attempts<Op, Fut, S2::Sleep, P>;

    #[inline(always)]
    fn with_sleeper(self) -> Self::Output {
        let Attempts {
            op,
            timeout,
            driver,
            run,
        } = self;
        // A call is idle until first polled, and an idle `run` holds nothing: forgetting it
        // spares every call the drop of the old sleep type's states.
        if let Run::Idle { context: () } = run {
            core::mem::forget(run);
        }
        Attempts {
            op,
            timeout,
            driver,
            run: Run::Idle { context: () },
        }
    }
}

impl<Op, Ctx, Fut, Sl, P, S2: MaybeSleeper> WithSleeper<S2>
    for AttemptsWithContext<Op, Ctx, Fut, Sl, P>
{
    type Output = AttemptsWithContext<Op, Ctx, Fut, S2::Sleep, P>;

    #[inline(always)]
    fn with_sleeper(self) -> Self::Output {
        let context = match self.run {
            Run::Idle { context } | Run::Sleep { context, .. } => Some(context),
            _ => None,
        };
        AttemptsWithContext {
            op: self.op,
            driver: self.driver,
            run: match context {
                Some(context) => Run::Idle { context },
                None => Run::Done,
            },
        }
    }
}

impl<Op, Fut, Sl, P, S, C, N> Retrying<Attempts<Op, Fut, Sl, P>, P, S, C, N> {
    /// Cuts off an attempt that takes longer than `limit`, on the same sleeper: it counts
    /// as a transport timeout ([`Transport::Timeout`](crate::Transport::Timeout)), retried
    /// where a timeout may be, and a last one ends the call with
    /// [`Last::TimedOut`](crate::Last::TimedOut).
    ///
    /// ```
    /// # use redial::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .attempt_timeout(std::time::Duration::from_secs(10));
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn attempt_timeout(mut self, limit: Duration) -> Self {
        // Kept in nanoseconds, eight bytes (every call carries it); a zero limit, which
        // cuts every attempt off at once, as one nanosecond.
        let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        self.attempts.timeout = Some(NonZeroU64::new(nanos).unwrap_or(NonZeroU64::MIN));
        self
    }
}

impl<Op, Fut, T, E, P, S, C, N> Future for Retrying<Attempts<Op, Fut, S::Sleep, P>, P, S, C, N>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    S: Sleeper,
    P: AsPolicy,
    C: Classify<T, E>,
    N: Notify,
{
    type Output = Result<T, RetryError<E, T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let attempts = this.attempts.project();
        let op = attempts.op;
        let (_, result) = ready!(poll_run(
            attempts.run,
            attempts.driver,
            this.options,
            this.sleeper,
            *attempts.timeout,
            cx,
            |()| op(),
            |result| ((), Some(result)),
            || Some(()),
        ));
        Poll::Ready(result)
    }
}

impl<Op, Ctx, Fut, T, E, P, S, C, N> Future
    for Retrying<AttemptsWithContext<Op, Ctx, Fut, S::Sleep, P>, P, S, C, N>
where
    Op: FnMut(Ctx) -> Fut,
    Fut: Future<Output = (Ctx, Result<T, E>)>,
    S: Sleeper,
    P: AsPolicy,
    C: Classify<T, E>,
    N: Notify,
{
    type Output = (Ctx, Result<T, RetryError<E, T>>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let attempts = this.attempts.project();
        let op = attempts.op;
        poll_run(
            attempts.run,
            attempts.driver,
            this.options,
            this.sleeper,
            None,
            cx,
            op,
            |(context, result)| (context, Some(result)),
            || None,
        )
    }
}

/// The loop both async calls share: it does what the driver says (make an attempt, sleep,
/// finish) and tells it what happened, nothing more.
///
/// Where the call stands is read once, on entry; after that each command leads straight
/// to the next. A failed attempt is let go of before its wait begins, in a fixed order:
/// its result (a response holds a connection), then its future (a timed-out one is
/// cancelled then) and timer.
#[inline]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn poll_run<Ctx, Fut, T, E, P, S, C, N>(
    mut run: Pin<&mut Run<Ctx, Fut, S::Sleep>>,
    driver: &mut Driver<P>,
    options: &mut Options<P, C, N>,
    sleeper: &S,
    timeout: Option<NonZeroU64>,
    cx: &mut Context<'_>,
    mut attempt: impl FnMut(Ctx) -> Fut,
    split: impl Fn(Fut::Output) -> (Ctx, Option<Result<T, E>>),
    timed_out: impl Fn() -> Option<Ctx>,
) -> Poll<(Ctx, Result<T, RetryError<E, T>>)>
where
    Fut: Future,
    S: Sleeper,
    P: AsPolicy,
    C: Classify<T, E>,
    N: Notify,
{
    let (now, wall) = (|| sleeper.now(), || sleeper.wall());
    macro_rules! step {
        ($event:expr) => {
            read(driver, options, $event, now, wall)
        };
    }
    // Where the call stands is read once, on entry; after that each command is obeyed
    // where it is given (a sleep set and polled, an attempt made and polled), so that a
    // retry is a few state changes and never a second look at the state just set.
    let mut due = match run.as_mut().project() {
        RunProj::Idle { .. } => true,
        RunProj::Attempt { .. } => false,
        RunProj::Sleep { sleep, .. } => {
            if sleep.poll(cx).is_pending() {
                return step!(Event::Pending(Pending::Sleep)).yielded();
            }
            true
        }
        RunProj::Done => return Poll::Pending,
    };
    loop {
        // Due: an attempt, a sleep first (the gate's hold, the pacer's slot), or the pacer's stop.
        let sleeping = due && {
            let command = step!(Event::Due);
            let Some(context) = run.as_mut().take_context() else {
                return Poll::Pending;
            };
            match command {
                Command::Attempt => {
                    let (fut, timer) = (attempt(context), timeout.map(|n| sleeper.sleep(ns(n))));
                    run.set(Run::Attempt { fut, timer });
                    false
                }
                Command::Sleep(delay) => {
                    let sleep = sleeper.sleep(delay);
                    run.set(Run::Sleep { sleep, context });
                    true
                }
                command => {
                    let result = finish(driver, options, command.end(), None, Duration::ZERO, now);
                    return Poll::Ready((context, result));
                }
            }
        };
        if !sleeping {
            let RunProj::Attempt { fut, timer } = run.as_mut().project() else {
                return Poll::Pending;
            };
            let (context, result) = match fut.poll(cx) {
                Poll::Ready(output) => split(output),
                // Still running: has its time run out? (Only a call without a context has one.)
                Poll::Pending => {
                    let _ = step!(Event::Pending(Pending::Attempt));
                    let Some(Poll::Ready(())) = timer.as_pin_mut().map(|t| t.poll(cx)) else {
                        return Poll::Pending;
                    };
                    match timed_out() {
                        Some(context) => (context, None),
                        None => return Poll::Pending,
                    }
                }
            };
            let command = step!(Event::Finished(result.as_ref(), None));
            let Command::Sleep(delay) = command else {
                run.set(Run::Done);
                let (end, timeout) = (command.end(), timeout.map_or(Duration::ZERO, ns));
                let result = finish(driver, options, end, result, timeout, now);
                return Poll::Ready((context, result));
            };
            drop(result); // first: a response holds a connection; then the future
            run.set(Run::Done);
            let sleep = sleeper.sleep(delay);
            run.set(Run::Sleep { sleep, context });
        }
        // A sleep was just set: once it is over, the next attempt is due.
        if !poll_sleep(run.as_mut(), cx) {
            return step!(Event::Pending(Pending::Sleep)).yielded();
        }
        due = true;
    }
}

/// A per-attempt timeout, kept in nanoseconds.
#[inline(always)]
fn ns(limit: NonZeroU64) -> Duration {
    Duration::from_nanos(limit.get())
}

/// Polls the sleep just set; whether it is over.
#[inline(always)]
fn poll_sleep<Ctx, Fut, Sl: Future<Output = ()>>(
    run: Pin<&mut Run<Ctx, Fut, Sl>>,
    cx: &mut Context<'_>,
) -> bool {
    match run.project() {
        RunProj::Sleep { sleep, .. } => sleep.poll(cx).is_ready(),
        _ => true, // never: the sleep was just set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Transport;
    use crate::Policy;

    #[test]
    fn a_call_is_small() {
        let policy = Policy::default();
        let call = (|| core::future::ready(Ok::<(), Transport>(())))
            .retry(&policy)
            .sleeper(|_| core::future::ready(()));
        let size = core::mem::size_of_val(&call);
        // Every executor moves the call at least once: keep it small (the machine and the
        // request ids are most of it). 328: the pacer's place a waiting call holds, with
        // the pacer to give it back to if the call is dropped (cancel safety), is 16 bytes
        // where the place alone was 8. The time a call waited for the pacer (2 bytes) is
        // paid for by counting request ids in a u16. 336: the scope of the request's rate
        // limit (its host's key, `RequestFacts::scope`), which picks the pacer.
        assert!(size <= 336, "a call is {size} bytes");
    }
}
