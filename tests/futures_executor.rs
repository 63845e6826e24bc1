//! The shared scenarios on `futures::executor`, with futures-timer's timer: no runtime at
//! all.

mod common;

use redial::sleep::FuturesTimerSleeper;

#[test]
fn shared_scenarios_reach_the_cores_decisions() {
    futures_executor::block_on(async {
        for s in common::scenarios() {
            let (run, _) = common::run_async(&s, FuturesTimerSleeper).await;
            common::check(&s, &run);
        }
    });
}

/// Issue 12, item 5: the retried call is a `Future` itself, as backon's is, so any
/// executor's `block_on` takes it as it is, with no `.into_future()`.
#[test]
fn issue_12_block_on_takes_the_call_itself() {
    use redial::Retryable;
    let policy = redial::Policy::default();
    let mut refused = 1;
    let call = (|| {
        let refuse = refused > 0;
        refused -= 1;
        async move {
            if refuse {
                Err(redial::Transport::Connect)
            } else {
                Ok(http::Response::new("hello"))
            }
        }
    })
    .retry(&policy)
    .sleeper(|d| futures_timer::Delay::new(d / 1000));
    let response = futures_executor::block_on(call).expect("the second attempt succeeds");
    assert_eq!(*response.body(), "hello");
}

#[test]
fn a_closure_is_a_sleeper() {
    use redial::Retryable;
    let policy = redial::Policy::default();
    let result = futures_executor::block_on(
        (|| async { Err::<http::Response<()>, _>(redial::Transport::Connect) })
            .retry(&policy)
            .sleeper(|d| futures_timer::Delay::new(d / 1000))
            .into_future_for_test(),
    );
    assert_eq!(result.unwrap_err().attempts(), 3);
}

trait IntoFutureForTest: std::future::IntoFuture + Sized {
    fn into_future_for_test(self) -> Self::IntoFuture {
        self.into_future()
    }
}
impl<T: std::future::IntoFuture> IntoFutureForTest for T {}
