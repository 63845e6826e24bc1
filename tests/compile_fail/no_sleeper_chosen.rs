//@ default-features = false
// Issue 12, item 2: with no sleeper feature on and no `.sleeper(..)` chosen, a retried call
// does not compile, and the error says what to do (it used to say only that the call "is
// not a future" and suggest removing the `.await`).

use redial::{Policy, Retryable};

async fn send() -> Result<http::Response<()>, std::io::Error> {
    Ok(http::Response::new(()))
}

async fn call(policy: &Policy) {
    let _ = (|| send()).retry(policy).await;
}

fn main() {
    let _ = call;
}
