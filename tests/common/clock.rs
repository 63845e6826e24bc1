//! A clock that moves only when slept on, for the blocking and the future adapters alike:
//! a test reads the waits it was asked for, and waits for none of them.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use redial::sleep::{BlockingSleeper, Sleeper};

/// A clock that moves only when slept on, and records every sleep.
#[derive(Clone)]
pub struct Virtual {
    start: Instant,
    wall: SystemTime,
    state: Rc<RefCell<(Duration, Vec<Duration>)>>,
}

impl Virtual {
    pub fn new() -> Virtual {
        Virtual {
            start: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            state: Rc::new(RefCell::new((Duration::ZERO, Vec::new()))),
        }
    }
    /// The same clock read from its start again, nothing slept on it: a second call
    /// that starts when the first did.
    pub fn restarted(&self) -> Virtual {
        Virtual {
            state: Rc::default(),
            ..self.clone()
        }
    }
    /// How long it has been slept on.
    pub fn elapsed(&self) -> Duration {
        self.state.borrow().0
    }
    /// Every sleep, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.borrow().1.clone()
    }
    fn advance(&self, d: Duration) {
        let mut s = self.state.borrow_mut();
        s.0 += d;
        s.1.push(d);
    }
}

impl BlockingSleeper for Virtual {
    fn sleep(&mut self, duration: Duration) {
        self.advance(duration);
    }
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
    fn wall(&self) -> SystemTime {
        self.wall + self.elapsed()
    }
}

impl Sleeper for Virtual {
    type Sleep = core::future::Ready<()>;
    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.advance(duration);
        core::future::ready(())
    }
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
    fn wall(&self) -> SystemTime {
        self.wall + self.elapsed()
    }
}
