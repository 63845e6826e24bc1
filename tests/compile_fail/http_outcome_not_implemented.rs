// Issue 12, item 4: an error type redial cannot read (ureq's, before the `ureq` feature)
// gets a note that says what works, not advice the orphan rule forbids.

use redial::BlockingRetryable;

#[derive(Debug)]
struct ClientError;

fn needs_an_outcome<T: redial::HttpOutcome>(_: &T) {}

fn main() {
    needs_an_outcome(&ClientError);
    let policy = redial::Policy::default();
    let _ = (|| Err::<http::Response<()>, _>(ClientError)).retry(&policy).call();
}
