//! A fleet's settings: plain data, checked without any I/O (and without the `redis`
//! feature, so that `redial check` validates a `[fleet]` table anywhere).

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use crate::duration::Exact;
use crate::gate::GateConfig;
use crate::PolicyError;

use super::FleetEvent;

/// The settings of a fleet (the `[fleet]` table of a policy file).
///
/// ```
/// use std::time::Duration;
/// use redial::fleet::FleetConfig;
/// let config = FleetConfig::new("redis://127.0.0.1:6379", "billing-api").sync(Duration::from_millis(100));
/// assert_eq!(config.key(), "billing-api");
/// ```
#[derive(Clone)]
#[must_use]
pub struct FleetConfig {
    pub(crate) url: String,
    pub(crate) key: String,
    pub(crate) sync: Duration,
    pub(crate) gate: GateConfig,
    pub(super) on_event: Option<EventHook>,
}

/// What hears the exchange's news.
pub(super) type EventHook = Arc<dyn Fn(&FleetEvent<'_>) + Send + Sync>;

/// Two configurations are equal when their settings are; the event hooks are not compared.
impl PartialEq for FleetConfig {
    fn eq(&self, other: &FleetConfig) -> bool {
        (&self.url, &self.key, self.sync, self.gate)
            == (&other.url, &other.key, other.sync, other.gate)
    }
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: it is not printed.
        f.debug_struct("FleetConfig")
            .field("key", &self.key)
            .field("sync", &self.sync)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl FleetConfig {
    /// The default sync interval, 250 ms: a new reset reaches every process within about
    /// that, while a thousand processes make 4,000 small round trips a second in all.
    pub const DEFAULT_SYNC: Duration = Duration::from_millis(250);

    /// How many sync intervals a fleet view stays fresh: the exchange hands each view to
    /// the budget good for this many intervals from the sync that read it (one missed tick
    /// is no outage), and past it decisions read the local window. A failed sync drops the
    /// view at once. The simulator's Redis scope uses this same rule.
    ///
    /// ```
    /// use redial::fleet::FleetConfig;
    /// assert_eq!(FleetConfig::VIEW_FRESH_SYNCS, 2);
    /// ```
    pub const VIEW_FRESH_SYNCS: u32 = 2;

    /// The time buckets a budget's window is cut into in Redis (each a tenth of the window,
    /// at least 100 ms): the fleet's view covers between 9/10 and all of the window, a sync
    /// reads this many small hashes, and the latest bucket is the fleet's last few seconds.
    /// The simulator's Redis scope cuts its store the same way.
    ///
    /// ```
    /// use redial::fleet::FleetConfig;
    /// assert_eq!(FleetConfig::BUDGET_BUCKETS, 10);
    /// ```
    pub const BUDGET_BUCKETS: u32 = 10;

    /// A fleet on the Redis at `url` (`redis://[:password@]host[:port][/db]`), for `key`,
    /// syncing every 250 ms.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc");
    /// assert_eq!(c.sync_interval(), std::time::Duration::from_millis(250));
    /// ```
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        FleetConfig {
            url: url.into(),
            key: key.into(),
            sync: Self::DEFAULT_SYNC,
            gate: GateConfig::default(),
            on_event: None,
        }
    }

    /// The sync interval, from 10 ms to 1 minute. It is also each round trip's timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc").sync(Duration::from_secs(1));
    /// assert_eq!(c.sync_interval(), Duration::from_secs(1));
    /// ```
    pub fn sync(mut self, interval: Duration) -> Self {
        self.sync = interval;
        self
    }

    /// The gate's ramp and longest hold.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::gate::GateConfig;
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc")
    ///     .gate(GateConfig::new(Duration::from_secs(2), Duration::from_secs(30)));
    /// # let _ = c;
    /// ```
    pub fn gate(mut self, gate: GateConfig) -> Self {
        self.gate = gate;
        self
    }

    /// Who hears that Redis went out of reach, and that it is back: once each.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc")
    ///     .on_event(|event| eprintln!("{event}"));
    /// # let _ = c;
    /// ```
    pub fn on_event(mut self, hook: impl Fn(&FleetEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// The fleet key.
    ///
    /// ```
    /// assert_eq!(redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc").key(), "svc");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The sync interval.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc");
    /// assert_eq!(c.sync_interval().as_millis(), 250);
    /// ```
    pub fn sync_interval(&self) -> Duration {
        self.sync
    }

    /// The URL with its password written `***`: the effective policy is printed by
    /// `redial check`, and logs are no place for a password. Masking twice changes nothing.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://app:s3cret@cache:6380/0", "svc");
    /// assert_eq!(c.masked_url(), "redis://app:***@cache:6380/0");
    /// ```
    pub fn masked_url(&self) -> String {
        let url = self.url.as_str();
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        match authority.rsplit_once('@') {
            Some((user, _)) => match (user.split_once(':'), rest.get(user.len() + 1..)) {
                (Some((name, _)), Some(host)) => format!("{scheme}://{name}:***@{host}"),
                _ => url.to_owned(),
            },
            None => url.to_owned(),
        }
    }

    /// Checks every setting, without any I/O: the errors name the `[fleet]` key.
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc")
    ///     .sync(Duration::from_millis(1))
    ///     .validate()
    ///     .unwrap_err();
    /// assert_eq!(err.key(), "fleet.sync");
    /// ```
    pub fn validate(&self) -> Result<(), PolicyError> {
        let key_ok = (1..=128).contains(&self.key.len())
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}');
        if !key_ok {
            return Err(PolicyError::invalid(
                "fleet.key",
                "1 to 128 printable ASCII characters without braces",
                format!("{:?}", self.key),
            ));
        }
        if !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&self.sync) {
            return Err(PolicyError::invalid(
                "fleet.sync",
                "from 10ms to 1m",
                Exact(self.sync).to_string(),
            ));
        }
        if self.gate.ramp > MAX_RAMP {
            return Err(PolicyError::invalid(
                "fleet.ramp",
                "at most 10m",
                Exact(self.gate.ramp).to_string(),
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3_600)).contains(&self.gate.max_hold) {
            return Err(PolicyError::invalid(
                "fleet.max_hold",
                "from 1s to 1h",
                Exact(self.gate.max_hold).to_string(),
            ));
        }
        // The URL is never echoed: it may hold a password. Its length is taken as it is
        // written back (password masked), so that a written policy always loads back.
        let url_ok = self.masked_url().len() <= 2_048
            && !self
                .url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
            && self.url.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") && !rest.is_empty()
            });
        if !url_ok {
            return Err(PolicyError::invalid(
                "fleet.url",
                "a Redis URL (redis://[:password@]host[:port][/db], rediss://, unix://)",
                "something else".to_string(),
            ));
        }
        Ok(())
    }

    /// The Redis URL (it may hold a password).
    ///
    /// ```
    /// assert_eq!(redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc").url(), "redis://127.0.0.1");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The gate's settings.
    ///
    /// ```
    /// let c = redial::fleet::FleetConfig::new("redis://127.0.0.1", "svc");
    /// assert_eq!(c.gate_config(), redial::gate::GateConfig::default());
    /// ```
    pub fn gate_config(&self) -> GateConfig {
        self.gate
    }
}

/// The longest ramp a fleet accepts (the gate holds up to about 17 minutes).
const MAX_RAMP: Duration = Duration::from_secs(600);
