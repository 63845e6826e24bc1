//! The response future: ready the service, call it, wait, and again, as the driver says.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use crate::adapters::classify_result::Classify;
use crate::adapters::driver::{Driver, Step};
use crate::adapters::notify::Notify;
use crate::adapters::options::AsPolicy;
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
        driver: Driver<P, C, N>,
        mode: PhantomData<M>,
        #[pin]
        state: TowerState<Svc::Future, S::Sleep, Req>,
    }
}

pin_project! {
    #[project = TowerProj]
    #[project_replace = TowerReplace]
    enum TowerState<F, Sl, Req> {
        // Waiting for the service to be ready, to send `request`.
        Ready { request: Req },
        // An attempt is in flight; `spare` is the copy to send next, if the body replays.
        Calling { #[pin] fut: F, spare: Option<Req> },
        // Waiting before sending `request`.
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
    pub(crate) fn new(service: Svc, request: Req, sleeper: S, driver: Driver<P, C, N>) -> Self {
        RetryServiceFuture {
            service,
            sleeper,
            driver,
            mode: PhantomData,
            state: TowerState::Ready { request },
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
        let (driver, sleeper) = (this.driver, &*this.sleeper);
        let now = || sleeper.now();
        loop {
            // The attempt's result and the request for the next one, once an attempt ends.
            let (result, next) = match this.state.as_mut().project() {
                TowerProj::Ready { .. } => {
                    if let Some(wait) = driver.hold(&|| sleeper.wall()) {
                        // The rate-limit gate holds the first attempt: wait, then ask again
                        // (before the service is polled ready, so that it reserves nothing
                        // meanwhile).
                        if let TowerReplace::Ready { request } =
                            this.state.as_mut().project_replace(TowerState::Done)
                        {
                            let sleep = sleeper.sleep(wait);
                            this.state.set(TowerState::Sleeping { sleep, request });
                        }
                        continue;
                    }
                    let ready = ready!(this.service.poll_ready(cx));
                    let TowerReplace::Ready { request } =
                        this.state.as_mut().project_replace(TowerState::Done)
                    else {
                        continue;
                    };
                    match ready {
                        Ok(()) => {
                            driver.before_attempt(now);
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
                    Poll::Pending => {
                        driver.start(now);
                        return Poll::Pending;
                    }
                },
                TowerProj::Sleeping { sleep, .. } => {
                    ready!(driver.waited(sleep.poll(cx), now));
                    if let TowerReplace::Sleeping { request, .. } =
                        this.state.as_mut().project_replace(TowerState::Done)
                    {
                        this.state.set(TowerState::Ready { request });
                    }
                    continue;
                }
                TowerProj::Done => return Poll::Pending,
            };
            // Without a copy of the request, the body is gone: the driver refuses a retry.
            let refuse = next.is_none().then_some(Refusal::BodyNotReplayable);
            match (
                driver.on_result(Some(&result), refuse, now, &|| sleeper.wall()),
                next,
            ) {
                (Step::Retry(delay), Some(request)) => {
                    drop(result);
                    let sleep = sleeper.sleep(delay);
                    this.state.set(TowerState::Sleeping { sleep, request });
                }
                (step, _) => {
                    this.state.set(TowerState::Done);
                    return Poll::Ready(M::answer(driver, step.end(), result, now));
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
