//! The response future: ready the service, call it, wait, and again, as the driver says.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use pin_project_lite::pin_project;

use crate::adapters::classify::Classify;
use crate::adapters::driver::{read, Command, Driver, Event, Pending};
use crate::adapters::notify::Notify;
use crate::adapters::options::{AsPolicy, Options};
use crate::adapters::retry_error::Refusal;
#[cfg(doc)]
use crate::adapters::retry_error::RetryError;
use crate::adapters::sleep::Sleeper;

use super::mode::{TowerMode, WrapInRetryError};
use super::replay::{replay, ReplayBody};

pin_project! {
    /// The future of [`RetryService::call`](super::RetryService): the response of the
    /// last attempt, or the call's [`RetryError`].
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryServiceFuture<Svc, Req, P, S, C, N, M = WrapInRetryError>
    where
        Svc: tower_service::Service<Req>,
        S: Sleeper,
    {
        service: Svc,
        sleeper: S,
        options: Options<P, C, N>,
        driver: Driver<P>,
        mode: PhantomData<M>,
        #[pin]
        state: TowerState<Svc::Future, S::Sleep, Req>,
    }
}

pin_project! {
    #[project = TowerProj]
    #[project_replace = TowerReplace]
    enum TowerState<F, Sl, Req> {
        // An attempt with `request` may be due: the driver says.
        Due { request: Req },
        // Waiting for the service to be ready, to send `request`.
        Ready { request: Req },
        // An attempt is in flight; `spare` is the copy to send next, if the body replays.
        Calling { #[pin] fut: F, spare: Option<Req> },
        // Waiting before sending `request` (a retry's delay, the gate's hold, the pacer's
        // slot).
        Sleeping { #[pin] sleep: Sl, request: Req },
        // The result was handed out.
        Done,
    }
}

impl<Svc, Req, P, S, C, N, M> RetryServiceFuture<Svc, Req, P, S, C, N, M>
where
    Svc: tower_service::Service<Req>,
    S: Sleeper,
{
    pub(crate) fn new(
        service: Svc,
        request: Req,
        sleeper: S,
        options: Options<P, C, N>,
        driver: Driver<P>,
    ) -> Self {
        RetryServiceFuture {
            service,
            sleeper,
            options,
            driver,
            mode: PhantomData,
            state: TowerState::Due { request },
        }
    }
}

impl<Svc, B, RB, P, S, C, N, M> Future for RetryServiceFuture<Svc, http::Request<B>, P, S, C, N, M>
where
    Svc: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    P: AsPolicy,
    S: Sleeper,
    C: Classify<http::Response<RB>, Svc::Error>,
    N: Notify,
    M: TowerMode<http::Response<RB>, Svc::Error>,
    B: ReplayBody,
{
    type Output = Result<http::Response<RB>, M::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let (driver, options, sleeper) = (this.driver, this.options, &*this.sleeper);
        let (now, wall) = (|| sleeper.now(), || sleeper.wall());
        macro_rules! step {
            ($event:expr) => {
                read(driver, options, $event, now, wall)
            };
        }
        macro_rules! take {
            ($state:ident) => {
                match this.state.as_mut().project_replace(TowerState::Done) {
                    TowerReplace::$state { request, .. } => request,
                    _ => return Poll::Pending,
                }
            };
        }
        loop {
            let (result, next) = match this.state.as_mut().project() {
                // Asked before the service is polled ready, so that a request the gate or
                // the pacer holds reserves nothing meanwhile.
                TowerProj::Due { .. } => {
                    let request = take!(Due);
                    let command = step!(Event::Due);
                    let done = matches!(command, Command::Done(_)); // the rate pacer stopped it
                    if let Some(e) = done.then(|| M::not_sent(driver, options, now)).flatten() {
                        return Poll::Ready(Err(e));
                    }
                    this.state.set(match command {
                        Command::Sleep(delay) => sleeping(sleeper, delay, request),
                        _ => TowerState::Ready { request },
                    });
                    continue;
                }
                TowerProj::Ready { .. } => {
                    let ready = ready!(this.service.poll_ready(cx));
                    let request = take!(Ready);
                    match ready {
                        Ok(()) => {
                            let spare = replay(&request);
                            let fut = this.service.call(request);
                            this.state.set(TowerState::Calling { fut, spare });
                            continue;
                        }
                        // Not sent: the request itself is still ours to send again.
                        Err(e) => (Err(e), Some(request)),
                    }
                }
                TowerProj::Calling { fut, spare } => match fut.poll(cx) {
                    Poll::Ready(result) => (result, spare.take()),
                    Poll::Pending => return step!(Event::Pending(Pending::Attempt)).yielded(),
                },
                TowerProj::Sleeping { sleep, .. } => {
                    if sleep.poll(cx).is_pending() {
                        return step!(Event::Pending(Pending::Sleep)).yielded();
                    }
                    let request = take!(Sleeping);
                    this.state.set(TowerState::Due { request });
                    continue;
                }
                TowerProj::Done => return Poll::Pending,
            };
            // Without a copy of the request, the body is gone: the driver refuses a retry.
            let refuse = next.is_none().then_some(Refusal::BodyNotReplayable);
            match (step!(Event::Finished(Some(&result), refuse)), next) {
                (Command::Sleep(delay), Some(request)) => {
                    drop(result); // first: a response holds a connection
                    this.state.set(sleeping(sleeper, delay, request));
                }
                (command, _) => {
                    this.state.set(TowerState::Done);
                    return Poll::Ready(M::answer(driver, options, command.end(), result, now));
                }
            }
        }
    }
}

impl<Svc, Req, P, S, C, N, M> fmt::Debug for RetryServiceFuture<Svc, Req, P, S, C, N, M>
where
    Svc: tower_service::Service<Req>,
    S: Sleeper,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            TowerState::Due { .. } => "due",
            TowerState::Ready { .. } => "ready",
            TowerState::Calling { .. } => "calling",
            TowerState::Sleeping { .. } => "sleeping",
            TowerState::Done => "done",
        };
        f.debug_struct("RetryServiceFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// The wait before sending `request`: `delay` on the sleeper's timer.
#[inline(always)]
fn sleeping<F, S: Sleeper, Req>(
    sleeper: &S,
    delay: Duration,
    request: Req,
) -> TowerState<F, S::Sleep, Req> {
    TowerState::Sleeping {
        sleep: sleeper.sleep(delay),
        request,
    }
}
