//@ default-features = false
//@ features = reqwest
// Issue 12, item 3: without the `json` feature, reading an error type from a body used to
// compile and never find one. Now the functions do not exist, and the compiler says which
// feature has them.

fn main() {
    let response = http::Response::builder().status(429).body("{}").unwrap();
    let _ = redial::classify::with_error_type(response);
    let _ = redial::reqwest::read_error_type;
}
