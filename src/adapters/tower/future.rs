//! The response future: ready the service, call it, wait, and again, as the machine says.

use core::borrow::Borrow;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use crate::adapters::driver::{Driver, Step};
use crate::adapters::error::{Last, Refusal, RetryError};
use crate::adapters::hooks::{HttpClassify, Notify};
use crate::adapters::outcome::HttpOutcome;
use crate::adapters::sleep::Sleeper;
use crate::machine::{Rules, Stop};
use crate::policy::Policy;
use crate::verdict::{Cause, Verdict};

use super::{replay, ReplayBody};

pin_project! {
    /// The future of [`RetryService::call`](super::RetryService): the response of the
    /// last attempt, or the call's [`RetryError`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<Svc, Req, P, S, N>
    where
        Svc: tower_service::Service<Req>,
        S: Sleeper,
    {
        service: Svc,
        sleeper: S,
        driver: Driver<P, HttpClassify, N>,
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

impl<Svc, Req, P, S, N> ResponseFuture<Svc, Req, P, S, N>
where
    Svc: tower_service::Service<Req>,
    S: Sleeper,
{
    pub(crate) fn new(
        service: Svc,
        request: Req,
        sleeper: S,
        driver: Driver<P, HttpClassify, N>,
    ) -> Self {
        ResponseFuture {
            service,
            sleeper,
            driver,
            state: TowerState::Ready { request },
        }
    }
}

impl<Svc, B, RB, P, S, N> Future for ResponseFuture<Svc, http::Request<B>, P, S, N>
where
    Svc: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    Svc::Error: HttpOutcome,
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    S: Sleeper,
    N: Notify,
    B: ReplayBody,
{
    type Output = Result<http::Response<RB>, RetryError<Svc::Error, http::Response<RB>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // The attempt's result and the request for the next one, once an attempt ends.
            let (result, next) = match this.state.as_mut().project() {
                TowerProj::Ready { .. } => {
                    this.driver.begin(|| this.sleeper.now());
                    let ready = ready!(this.service.poll_ready(cx));
                    let TowerReplace::Ready { request } =
                        this.state.as_mut().project_replace(TowerState::Done)
                    else {
                        continue;
                    };
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
                TowerProj::Calling { fut, spare } => {
                    let result = ready!(fut.poll(cx));
                    (result, spare.take())
                }
                TowerProj::Sleeping { sleep, .. } => {
                    ready!(sleep.poll(cx));
                    if let TowerReplace::Sleeping { request, .. } =
                        this.state.as_mut().project_replace(TowerState::Done)
                    {
                        this.state.set(TowerState::Ready { request });
                    }
                    continue;
                }
                TowerProj::Done => return Poll::Pending,
            };

            let now = this.sleeper.now();
            let mut verdict = this
                .driver
                .context(this.sleeper.wall())
                .verdict(&result.outcome());
            let mut refusal = None;
            if next.is_none() && verdict.is_retryable() {
                // The body is gone: the machine hears this failure as final.
                verdict = Verdict::fatal(verdict.cause().copied().unwrap_or_else(Cause::caller));
                refusal = Some(Refusal::BodyNotReplayable);
            }
            match (
                this.driver.observe(&verdict, result.request_id(), || now),
                next,
            ) {
                (Step::Retry(delay), Some(request)) => {
                    drop(result);
                    let sleep = this.sleeper.sleep(delay);
                    this.state.set(TowerState::Sleeping { sleep, request });
                }
                (Step::Stop(stop), _) => {
                    this.state.set(TowerState::Done);
                    let last = match result {
                        Ok(response) if verdict.is_success() => return Poll::Ready(Ok(response)),
                        Ok(response) => Last::Response(response),
                        Err(e) => Last::Error(e),
                    };
                    return Poll::Ready(Err(this.driver.error(stop, last, refusal, now)));
                }
                // A fatal verdict never yields a retry; should it, nothing is sent twice.
                (Step::Retry(_), None) => {
                    this.state.set(TowerState::Done);
                    let stop = Stop::NotRetryable {
                        cause: verdict.cause().copied().unwrap_or_else(Cause::caller),
                    };
                    let last = match result {
                        Ok(response) => Last::Response(response),
                        Err(e) => Last::Error(e),
                    };
                    return Poll::Ready(Err(this.driver.error(stop, last, refusal, now)));
                }
            }
        }
    }
}

impl<Svc, Req, P, S, N> fmt::Debug for ResponseFuture<Svc, Req, P, S, N>
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
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
