//! The policy value, the builder that checks it, the presets it starts from and the
//! errors it names. Private: the four types live at the crate root (`redial::Policy`, …),
//! and the public `policy` module holds the policy file's tools.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::backoff::{Backoff, Curve, Jitter};
use crate::budget::{Budget, BudgetConfig, BudgetKind};
use crate::classify::{Classifier, NonIdempotent, Outcome, RequestFacts, StatusSet};
use crate::duration::Exact;
use crate::fleet::FleetConfig;
use crate::gate::Gate;
use crate::machine::{Machine, OnLongHint, Rules};
use crate::pacer::{Pacer, PacerConfig, PacerKey, Pacers};
use crate::verdict::Verdict;

/// The most attempts a pacer lets go at once (`rate.burst`): the policy file's rule and
/// its JSON Schema's maximum.
pub(crate) const RATE_BURST_MAX: u32 = 10_000;

/// A policy: everything that decides whether and when a call is tried again.
///
/// A [`Policy`] joins the HTTP half ([`Classifier`]: which outcomes are retryable) and the
/// machine half ([`Rules`]: attempts, deadline, backoff, hint limits, budget). Build one
/// from a [`Preset`] and adjust it with the [`PolicyBuilder`], which checks every rule and
/// names the setting that breaks one. Cloning a policy is cheap and shares its budget: make
/// one per service (or per upstream) and clone it into each call.
///
/// ```
/// use std::time::Duration;
/// use redial::{Policy, Preset};
/// use redial::backoff::Jitter;
///
/// let policy = Preset::Anthropic
///     .builder()
///     .max_attempts(5)
///     .max_elapsed(Duration::from_secs(30))
///     .jitter(Jitter::Full)
///     .build()?;
/// assert_eq!(policy.rules().max_attempts(), 5);
///
/// let err = Policy::builder().base(Duration::from_secs(10)).cap(Duration::from_secs(1)).build().unwrap_err();
/// assert_eq!(err.to_string(), "backoff.cap: must be >= base (10s), got 1s");
/// # Ok::<(), redial::PolicyError>(())
/// ```
///
/// # Presets
///
/// | preset | attempts | base | cap | jitter | retried beyond the table | non-idempotent | max hint |
/// |---|---|---|---|---|---|---|---|
/// | `default` | 3 | 500 ms | 8 s | full | — | when safe | 60 s |
/// | `anthropic` | 3 | 500 ms | 8 s | proportional 0.25 | 409, every 5xx | always | 60 s |
/// | `openai` | 3 | 500 ms | 8 s | proportional 0.25 | 409, every 5xx | always | 120 s |
/// | `aws-standard` | 3 | 1 s | 20 s | full | — | when safe | 60 s |
///
/// All use an exponential curve with factor 2, stop on a longer hint and set no
/// `max_elapsed`. `aws-standard` keeps the AWS SDKs' budget (`aws`, 500 / 5 / 10 / 1); the
/// others keep the `adaptive` budget, which protects a fleet of processes (see
/// [`budget`](crate::budget)).
///
/// Why these numbers: 3 attempts is what the official Anthropic and OpenAI SDKs make (2
/// retries) and what the AWS SDKs' standard mode makes; more attempts mostly add load during
/// the outages that cause them. 500 ms doubling to 8 s is those SDKs' curve: the first
/// retry is quick enough for a blip, the cap keeps a stuck call from sleeping for minutes.
/// Full jitter spreads contending clients the most (the AWS Architecture Blog's
/// "Exponential Backoff and Jitter"); the LLM presets keep the SDKs' "minus up to 25 %" so
/// that their first retry is never near zero. The LLM presets retry POSTs, as their SDKs
/// do, because those APIs do not act on a request they answer with 429, 529 or 5xx (their
/// `x-should-retry` says otherwise when it matters). The 60 s hint limit is the longest a
/// client call can wait without looking hung; OpenAI's SDK waits up to 120 s.
///
/// # A policy's decisions, step by step
///
/// ```
/// use std::time::{Instant, SystemTime};
/// use http::{HeaderMap, Method, StatusCode};
/// use redial::Policy;
/// use redial::classify::{Outcome, RequestFacts};
///
/// let policy = Policy::default();
/// let headers = HeaderMap::new();
/// let verdict = policy.classify(
///     &RequestFacts::new(&Method::GET),
///     &Outcome::response(StatusCode::BAD_GATEWAY, &headers),
///     SystemTime::now(),
/// );
/// let mut call = policy.start(Instant::now());
/// let action = call.on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::new());
/// assert!(action.retry().is_some());
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    pub(super) classifier: Classifier,
    pub(super) rules: Rules,
    /// The rate-limit gate first attempts consult, when one is set (see `with_gate`).
    pub(super) gate: Option<Gate>,
    /// The fleet to join, as a policy file's `[fleet]` table names it (see `fleet_config`).
    pub(super) fleet_config: Option<FleetConfig>,
    /// Keeps the fleet's exchange running as long as a policy uses its gate.
    #[cfg(feature = "redis")]
    pub(crate) fleet: Option<crate::fleet::Fleet>,
    /// The rate pacer every attempt asks for a slot (the `[rate]` table), shared by every
    /// clone; `None` when pacing is off. Calls that name no scope share it, and so do all
    /// calls once the policy is in a fleet (the fleet key is then the scope).
    pub(super) pacer: Option<Arc<Pacer>>,
    /// One pacer per scope (a host, or a key the caller names), when pacing is on.
    pub(super) scoped: Option<Arc<Pacers>>,
    /// Set once any of its pacers listens (from the start for one engaged by any
    /// throttle; for the presets', once a 429 says how long to wait): until then a call
    /// that succeeds at once reads this and nothing else of the pacer.
    pub(super) engaged: Arc<AtomicBool>,
    /// Whether an attempt is due only after a look at the gate or at the clock (a
    /// deadline): what a call that succeeds at once asks, in one load (and `engaged`).
    pub(super) checks_due: bool,
}

impl Policy {
    /// A builder that starts from the `default` preset.
    ///
    /// ```
    /// let policy = redial::Policy::builder().max_attempts(2).build()?;
    /// assert_eq!(policy.rules().max_attempts(), 2);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn builder() -> PolicyBuilder {
        Preset::Default.builder()
    }

    /// A preset's policy, with a fresh budget.
    ///
    /// ```
    /// use redial::{Policy, Preset};
    /// use redial::classify::NonIdempotent;
    /// assert_eq!(Policy::preset(Preset::OpenAi).classifier().non_idempotent(), NonIdempotent::Always);
    /// ```
    pub fn preset(preset: Preset) -> Policy {
        preset.builder().assemble()
    }

    /// A builder holding this policy's settings (the budget will be a fresh one).
    ///
    /// ```
    /// let policy = redial::Policy::default().to_builder().max_attempts(4).build()?;
    /// assert_eq!(policy.rules().max_attempts(), 4);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn to_builder(&self) -> PolicyBuilder {
        let b = &self.rules.backoff;
        PolicyBuilder {
            max_attempts: self.rules.max_attempts,
            max_elapsed: self.rules.max_elapsed,
            non_idempotent: self.classifier.non_idempotent,
            curve: b.curve(),
            base: b.base(),
            cap: b.cap(),
            factor: b.factor(),
            jitter: b.jitter(),
            honor_hints: self.classifier.honor_hints,
            max_hint: self.rules.max_hint,
            on_long_hint: self.rules.on_long_hint,
            retry_status: self.classifier.retry_status,
            bad_status: None,
            budget: self.rules.budget_config,
            fleet: self.fleet_config.clone(),
            rate: self.pacer.as_deref().map(|p| *p.config()),
        }
    }

    /// The HTTP half: which outcomes are retryable.
    ///
    /// ```
    /// assert!(redial::Policy::default().classifier().honor_hints());
    /// ```
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The machine half: limits, backoff, hint limits, budget.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().max_attempts(), 3);
    /// ```
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Classifies one outcome with this policy's [`Classifier`].
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use redial::{Policy, Transport};
    /// use redial::classify::{Outcome, RequestFacts};
    /// let v = Policy::default().classify(
    ///     &RequestFacts::new(&http::Method::POST),
    ///     &Outcome::Transport(Transport::Connect),
    ///     SystemTime::now(),
    /// );
    /// assert!(v.is_retryable());
    /// ```
    #[inline]
    pub fn classify(
        &self,
        request: &RequestFacts,
        outcome: &Outcome<'_>,
        wall: SystemTime,
    ) -> Verdict {
        self.classifier.classify(request, outcome, wall)
    }

    /// Starts one call's [`Machine`], borrowing this policy.
    ///
    /// ```
    /// let policy = redial::Policy::default();
    /// let call = policy.start(std::time::Instant::now());
    /// assert_eq!(call.attempts(), 0);
    /// ```
    #[inline]
    pub fn start(&self, now: Instant) -> Machine<&Policy> {
        Machine::new(self, now)
    }

    /// The same policy, whose first attempts consult this rate-limit [`Gate`] (shared by
    /// every clone). For a gate shared by a fleet of processes, see `with_fleet` (feature
    /// `redis`).
    ///
    /// ```
    /// use redial::gate::{Gate, GateConfig};
    /// let policy = redial::Policy::default().with_gate(Gate::new(GateConfig::default()));
    /// assert!(policy.gate().is_some());
    /// ```
    pub fn with_gate(mut self, gate: Gate) -> Policy {
        self.gate = Some(gate);
        self.checks_due = true;
        self
    }

    /// The fleet this policy names (a policy file's `[fleet]` table, or
    /// [`PolicyBuilder::fleet`]): settings only; with the `redis` feature, `join_fleet`
    /// joins it.
    ///
    /// ```
    /// use redial::fleet::FleetConfig;
    /// let policy = redial::Policy::builder().fleet(FleetConfig::new("redis://10.0.0.7", "svc")).build()?;
    /// assert_eq!(policy.fleet_config().map(|f| f.key()), Some("svc"));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn fleet_config(&self) -> Option<&FleetConfig> {
        self.fleet_config.as_ref()
    }

    /// The rate-limit gate, if one is set.
    ///
    /// ```
    /// assert!(redial::Policy::default().gate().is_none());
    /// ```
    #[inline]
    pub fn gate(&self) -> Option<&Gate> {
        self.gate.as_ref()
    }

    /// The policy's own rate pacer, if pacing is on (every preset's, engaged by a stated
    /// quota; a policy file's `[rate]` table, or [`PolicyBuilder::pace`]), shared by its
    /// clones.
    ///
    /// ```
    /// use redial::pacer::{Engage, PacerConfig};
    /// let default = redial::Policy::default();
    /// assert_eq!(default.pacer().map(|p| p.config().engage), Some(Engage::Quota));
    /// assert!(!default.pacer().unwrap().listens(), "until a 429 states a quota");
    /// assert!(redial::Policy::builder().no_pacing().build()?.pacer().is_none());
    /// let paced = redial::Policy::builder().pace(PacerConfig::default()).build()?;
    /// assert!(paced.pacer().is_some_and(|p| !p.is_active()), "nothing learned yet");
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    ///
    /// This is the pacer of calls whose request names no scope, and of every call once
    /// the policy is in a fleet; [`pacer_for`](Self::pacer_for) finds a scope's.
    #[inline]
    pub fn pacer(&self) -> Option<&Pacer> {
        self.pacer.as_deref()
    }

    /// The rate pacer of a call whose request names `scope` (its host, or a key the
    /// caller names: [`RequestFacts::with_scope`](crate::classify::RequestFacts::with_scope)),
    /// if pacing is on: one learned rate per scope, so that a throttle on one host never
    /// slows calls to another. Without a scope, and in a fleet (whose key is the scope),
    /// the policy's own [`pacer`](Self::pacer). A process that calls more hosts than the
    /// table holds (64) shares one pacer among the rest.
    ///
    /// ```
    /// use redial::pacer::{PacerConfig, PacerKey};
    /// let policy = redial::Policy::builder().pace(PacerConfig::default()).build()?;
    /// let a = policy.pacer_for(Some(PacerKey::host("a.example.com"))).unwrap();
    /// let b = policy.pacer_for(Some(PacerKey::host("b.example.com"))).unwrap();
    /// assert!(!std::ptr::eq(a, b), "a host's throttle is its own");
    /// assert!(std::ptr::eq(policy.pacer_for(None).unwrap(), policy.pacer().unwrap()));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    #[inline]
    pub fn pacer_for(&self, scope: Option<PacerKey>) -> Option<&Pacer> {
        self.shared_pacer_for(scope).map(|p| &**p)
    }

    /// [`pacer_for`](Self::pacer_for), shared: for a waiting call to give its place back
    /// to.
    #[inline]
    pub(crate) fn shared_pacer_for(&self, scope: Option<PacerKey>) -> Option<&Arc<Pacer>> {
        let pacer = self.pacer.as_ref()?;
        match (scope, self.scoped.as_deref()) {
            (Some(key), Some(table)) if !self.in_fleet() => Some(table.shared(key)),
            _ => Some(pacer),
        }
    }

    /// The policy's own pacer, shared: for a fleet to join.
    #[cfg(feature = "redis")]
    pub(crate) fn shared_pacer(&self) -> Option<Arc<Pacer>> {
        self.pacer.clone()
    }

    /// Whether the policy has joined a fleet (whose key is then every call's scope).
    #[inline(always)]
    fn in_fleet(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.fleet.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }

    /// Whether an attempt that is due needs a look first, whatever the pacer says: a gate
    /// may hold it, or a deadline starts the call's clock. (A pacer holds it only once it
    /// paces: [`Pacer::is_active`], one load.)
    #[inline(always)]
    pub(crate) fn checks_due(&self) -> bool {
        self.checks_due
    }

    /// Whether an answer that succeeded may teach the gate or a pacer, which then need the
    /// clocks: a call that succeeds at once otherwise reads none.
    #[inline(always)]
    pub(crate) fn learns_from_success(&self) -> bool {
        self.gate.is_some() || self.pacer_listens()
    }

    /// Whether any of its pacers listens (and so may pace): one load.
    #[inline(always)]
    pub(crate) fn pacer_listens(&self) -> bool {
        self.engaged.load(Ordering::Acquire)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::preset(Preset::Default)
    }
}

impl AsRef<Rules> for Policy {
    fn as_ref(&self) -> &Rules {
        &self.rules
    }
}

/// Two policies are equal when every setting is; the budgets' current levels are not
/// compared.
impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.to_builder() == other.to_builder()
    }
}

/// The named starting points. See [`Policy`] for their numbers and why.
///
/// ```
/// use redial::Preset;
/// assert_eq!("aws-standard".parse::<Preset>()?, Preset::AwsStandard);
/// assert_eq!(Preset::OpenAi.name(), "openai");
/// # Ok::<(), redial::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// Safe for any HTTP API.
    #[default]
    Default,
    /// The Anthropic API, as its official SDKs retry and then some.
    Anthropic,
    /// The OpenAI API, likewise.
    OpenAi,
    /// The AWS SDKs' standard retry mode.
    AwsStandard,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 4] = [
        Preset::Default,
        Preset::Anthropic,
        Preset::OpenAi,
        Preset::AwsStandard,
    ];

    /// The name used in policy files and on the command line.
    ///
    /// ```
    /// assert_eq!(redial::Preset::AwsStandard.name(), "aws-standard");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Anthropic => "anthropic",
            Preset::OpenAi => "openai",
            Preset::AwsStandard => "aws-standard",
        }
    }

    /// A builder holding this preset's settings.
    ///
    /// ```
    /// let p = redial::Preset::AwsStandard.builder().build()?;
    /// assert_eq!(p.rules().backoff().cap(), std::time::Duration::from_secs(20));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn builder(&self) -> PolicyBuilder {
        let mut b = PolicyBuilder {
            max_attempts: 3,
            max_elapsed: None,
            non_idempotent: NonIdempotent::WhenSafe,
            curve: Curve::Exponential,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            factor: 2.0,
            jitter: Jitter::Full,
            honor_hints: true,
            max_hint: Duration::from_secs(60),
            on_long_hint: OnLongHint::Stop,
            retry_status: StatusSet::DEFAULT_RETRYABLE,
            bad_status: None,
            budget: BudgetConfig::default(),
            fleet: None,
            // On in every preset, engaged only by a throttle that states a quota (or a
            // wait it checks): until one comes it costs a call nothing, and a brown-out
            // of 429s, which may say Retry-After, never slows it (PACER.md, "Engaged by a
            // stated quota").
            rate: Some(PacerConfig::on_quota()),
        };
        match self {
            Preset::Default => {}
            Preset::Anthropic | Preset::OpenAi => {
                // The official SDKs: 408, 409, 429 and every 5xx; minus up to 25 %.
                b.retry_status = StatusSet::DEFAULT_RETRYABLE.with(409).with_range(500, 599);
                b.jitter = Jitter::Proportional(0.25);
                b.non_idempotent = NonIdempotent::Always;
                if *self == Preset::OpenAi {
                    b.max_hint = Duration::from_secs(120);
                }
            }
            Preset::AwsStandard => {
                b.base = Duration::from_secs(1);
                b.cap = Duration::from_secs(20);
                // The AWS SDKs' retry quota, exact.
                b.budget = BudgetConfig::aws();
            }
        }
        b
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Preset, PolicyError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                PolicyError::invalid(
                    "preset",
                    "one of default, anthropic, openai, aws-standard",
                    format!("{s:?}"),
                )
            })
    }
}

/// Builds a [`Policy`], checking every rule in [`build`](Self::build).
///
/// Setters take plain values and never fail; `build` reports the first broken rule with
/// the setting's name as it appears in a policy file.
///
/// ```
/// use std::time::Duration;
/// use redial::Policy;
/// use redial::backoff::{Curve, Jitter};
/// use redial::budget::BudgetConfig;
/// use redial::classify::NonIdempotent;
/// use redial::machine::OnLongHint;
///
/// let policy = Policy::builder()
///     .max_attempts(4)
///     .max_elapsed(Duration::from_secs(30))
///     .non_idempotent(NonIdempotent::Never)
///     .curve(Curve::Exponential)
///     .base(Duration::from_millis(200))
///     .cap(Duration::from_secs(5))
///     .factor(2.0)
///     .jitter(Jitter::Decorrelated)
///     .honor_hints(true)
///     .max_hint(Duration::from_secs(30))
///     .on_long_hint(OnLongHint::Clamp)
///     .retry_status([429, 503])
///     .budget(BudgetConfig::new(100, 5, 10, 1))
///     .build()?;
/// assert!(policy.classifier().retry_status().contains(503));
/// # Ok::<(), redial::PolicyError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct PolicyBuilder {
    pub(super) max_attempts: u32,
    pub(super) max_elapsed: Option<Duration>,
    pub(super) non_idempotent: NonIdempotent,
    pub(super) curve: Curve,
    pub(super) base: Duration,
    pub(super) cap: Duration,
    pub(super) factor: f64,
    pub(super) jitter: Jitter,
    pub(super) honor_hints: bool,
    pub(super) max_hint: Duration,
    pub(super) on_long_hint: OnLongHint,
    pub(super) retry_status: StatusSet,
    /// A code given to `retry_status` that no set can hold, reported by `build`.
    pub(super) bad_status: Option<u16>,
    pub(super) budget: BudgetConfig,
    pub(crate) fleet: Option<FleetConfig>,
    pub(crate) rate: Option<PacerConfig>,
}

impl PolicyBuilder {
    /// Attempts in all, the first included (so 3 means 2 retries). At least 1.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().max_attempts(5).build()?;
    /// assert_eq!(p.rules().max_attempts(), 5);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// No retry is made whose wait would end past this much time since the call began.
    /// Must be more than zero.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().max_elapsed(Duration::from_secs(30)).build()?;
    /// assert_eq!(p.rules().max_elapsed(), Some(Duration::from_secs(30)));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = Some(limit);
        self
    }

    /// Removes the `max_elapsed` limit.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().max_elapsed(Duration::from_secs(30)).no_max_elapsed().build()?;
    /// assert_eq!(p.rules().max_elapsed(), None);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn no_max_elapsed(mut self) -> Self {
        self.max_elapsed = None;
        self
    }

    /// When requests that are not idempotent are retried.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().non_idempotent(redial::classify::NonIdempotent::Always).build()?;
    /// assert_eq!(p.classifier().non_idempotent(), redial::classify::NonIdempotent::Always);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn non_idempotent(mut self, rule: NonIdempotent) -> Self {
        self.non_idempotent = rule;
        self
    }

    /// The backoff curve.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().curve(redial::backoff::Curve::Linear).build()?;
    /// assert_eq!(p.rules().backoff().raw(3), Duration::from_millis(1500));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn curve(mut self, curve: Curve) -> Self {
        self.curve = curve;
        self
    }

    /// The first retry's raw delay.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().base(Duration::from_millis(100)).build()?;
    /// assert_eq!(p.rules().backoff().base(), Duration::from_millis(100));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The longest backoff delay. At least `base`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().cap(Duration::from_secs(2)).build()?;
    /// assert_eq!(p.rules().backoff().raw(10), Duration::from_secs(2));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The exponential curve's factor: finite and more than 0.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().factor(3.0).build()?;
    /// assert_eq!(p.rules().backoff().raw(3), Duration::from_millis(4500));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The jitter. A proportional ratio must lie in `[0, 1]`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().jitter(redial::backoff::Jitter::Equal).build()?;
    /// assert_eq!(p.rules().backoff().jitter(), redial::backoff::Jitter::Equal);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Whether server hints (`retry-after` and the rate-limit headers) are read.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().honor_hints(false).build()?;
    /// assert!(!p.classifier().honor_hints());
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn honor_hints(mut self, honor: bool) -> Self {
        self.honor_hints = honor;
        self
    }

    /// The longest server hint honoured as it is.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().max_hint(Duration::from_secs(10)).build()?;
    /// assert_eq!(p.rules().max_hint(), Duration::from_secs(10));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn max_hint(mut self, max: Duration) -> Self {
        self.max_hint = max;
        self
    }

    /// What a longer hint does: stop the call, or wait `max_hint`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().on_long_hint(redial::machine::OnLongHint::Clamp).build()?;
    /// assert_eq!(p.rules().on_long_hint(), redial::machine::OnLongHint::Clamp);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn on_long_hint(mut self, rule: OnLongHint) -> Self {
        self.on_long_hint = rule;
        self
    }

    /// Replaces the retryable statuses of the table. Codes must lie in 100 to 599.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().retry_status([429, 503]).build()?;
    /// assert!(!p.classifier().retry_status().contains(500));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn retry_status(mut self, codes: impl IntoIterator<Item = u16>) -> Self {
        let mut set = StatusSet::EMPTY;
        self.bad_status = None;
        for code in codes {
            if !StatusSet::in_range(code) {
                // Remembered as out of range so that `build` can name it.
                self.bad_status = Some(code);
            }
            set = set.with(code);
        }
        self.retry_status = set;
        self
    }

    /// The budget's settings (see [`BudgetConfig`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().budget(redial::budget::BudgetConfig::new(100, 10, 20, 1)).build()?;
    /// assert_eq!(p.rules().budget().map(|b| b.available()), Some(100));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = budget;
        self
    }

    /// Turns the budget off.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = redial::Policy::builder().no_budget().build()?;
    /// assert!(p.rules().budget().is_none());
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn no_budget(mut self) -> Self {
        self.budget.enabled = false;
        self
    }

    /// The fleet to join (the `[fleet]` table of a policy file): checked by `build`, joined
    /// by `Policy::join_fleet` (feature `redis`).
    ///
    /// ```
    /// use redial::fleet::FleetConfig;
    /// let err = redial::Policy::builder().fleet(FleetConfig::new("redis://10.0.0.7", "a b")).build().unwrap_err();
    /// assert_eq!(err.key(), "fleet.key");
    /// ```
    pub fn fleet(mut self, fleet: FleetConfig) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// Paces every attempt, first ones included, to the rate the server allows (the
    /// `[rate]` table of a policy file): a token bucket whose rate a 429 cuts and
    /// successes grow back, or a quota the server states (`redial::pacer`). Every preset
    /// paces with [`PacerConfig::on_hint`]: engaged only by a 429 that says how long to
    /// wait, since one that learns from a brown-out's 429s without a hint would slow the
    /// whole process; `PacerConfig::default()` is engaged by any 429.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::pacer::PacerConfig;
    /// let mut rate = PacerConfig::default();
    /// rate.max_wait = Duration::from_secs(2);
    /// let policy = redial::Policy::builder().pace(rate).build()?;
    /// assert_eq!(policy.pacer().map(|p| p.config().max_wait), Some(Duration::from_secs(2)));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn pace(mut self, rate: PacerConfig) -> Self {
        self.rate = Some(rate);
        self
    }

    /// No rate pacing at all, not even the presets' ([`PacerConfig::on_hint`]).
    ///
    /// ```
    /// use redial::pacer::PacerConfig;
    /// let p = redial::Policy::builder().pace(PacerConfig::default()).no_pacing().build()?;
    /// assert!(p.pacer().is_none());
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn no_pacing(mut self) -> Self {
        self.rate = None;
        self
    }

    /// Checks every rule and builds the policy with a fresh budget.
    ///
    /// ```
    /// let err = redial::Policy::builder().max_attempts(0).build().unwrap_err();
    /// assert_eq!(err.to_string(), "max_attempts: must be at least 1, got 0");
    /// assert_eq!(err.key(), "max_attempts");
    /// ```
    pub fn build(self) -> Result<Policy, PolicyError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.assemble()),
        }
    }

    /// Builds without checking: only for settings known to be valid (the presets, which
    /// `presets_are_valid` checks), so that `Policy::preset` has no failure path.
    pub(super) fn assemble(self) -> Policy {
        let backoff = Backoff::new(self.curve, self.base, self.cap, self.factor, self.jitter);
        let rules = Rules {
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            backoff,
            max_hint: self.max_hint,
            on_long_hint: self.on_long_hint,
            budget_config: self.budget,
            budget: self.budget.enabled.then(|| Budget::new(self.budget)),
        };
        let classifier = Classifier {
            retry_status: self.retry_status,
            non_idempotent: self.non_idempotent,
            honor_hints: self.honor_hints,
        };
        let engaged = Arc::new(AtomicBool::new(false));
        Policy {
            classifier,
            rules,
            gate: None,
            fleet_config: self.fleet,
            #[cfg(feature = "redis")]
            fleet: None,
            pacer: self
                .rate
                .map(|c| Arc::new(Pacer::sharing(c, Some(engaged.clone())))),
            scoped: self.rate.map(|c| {
                Arc::new(Pacers::sharing(
                    c,
                    Pacers::DEFAULT_SLOTS,
                    Some(engaged.clone()),
                ))
            }),
            engaged,
            checks_due: self.max_elapsed.is_some(),
        }
    }

    /// Every rule this builder breaks, in the order `build` checks them.
    pub(crate) fn problems(&self) -> Vec<PolicyError> {
        let mut out = Vec::new();
        let mut bad = |key: &str, rule: String, got: String| {
            out.push(PolicyError::Invalid {
                key: key.into(),
                rule,
                got,
            })
        };
        if self.max_attempts == 0 {
            bad("max_attempts", "at least 1".into(), "0".into());
        }
        if self.max_elapsed == Some(Duration::ZERO) {
            bad("max_elapsed", "more than 0s".into(), "0s".into());
        }
        if self.cap < self.base {
            bad(
                "backoff.cap",
                format!(">= base ({})", Exact(self.base)),
                Exact(self.cap).to_string(),
            );
        }
        if !(self.factor.is_finite() && self.factor > 0.0) {
            bad(
                "backoff.factor",
                "a finite number > 0".into(),
                format!("{:?}", self.factor),
            );
        }
        if let Jitter::Proportional(r) = self.jitter {
            if !(0.0..=1.0).contains(&r) {
                bad(
                    "backoff.jitter_ratio",
                    "between 0 and 1".into(),
                    format!("{r:?}"),
                );
            }
        }
        if let Some(code) = self.bad_status {
            bad(
                "classify.retry_status",
                "status codes from 100 to 599".into(),
                code.to_string(),
            );
        }
        let b = &self.budget;
        // Checked even when the budget is off: a ratio that is not a number could not be
        // written back to a file (found by prop_policy_written_as_toml_loads_back_equal).
        if b.kind == BudgetKind::Adaptive {
            if b.window.is_zero() {
                bad("budget.window", "more than 0s".into(), "0s".into());
            }
            for (key, value, most) in [
                ("budget.overload_ratio", b.overload_ratio, 10.0),
                ("budget.retry_ratio", b.retry_ratio, 10.0),
                ("budget.min_retries", b.min_retries, 1e6),
            ] {
                if !(value.is_finite() && (0.0..=most).contains(&value)) {
                    bad(
                        key,
                        format!("a number from 0 to {most}"),
                        format!("{value:?}"),
                    );
                }
            }
        }
        if b.enabled && b.kind == BudgetKind::Aws {
            if b.capacity == 0 {
                bad(
                    "budget.capacity",
                    "at least 1 when the budget is enabled".into(),
                    "0".into(),
                );
            }
            for (key, value) in [
                ("budget.retry_cost", b.retry_cost),
                ("budget.timeout_cost", b.timeout_cost),
                ("budget.success_refund", b.success_refund),
            ] {
                if b.capacity > 0 && value > b.capacity {
                    bad(
                        key,
                        format!("<= capacity ({})", b.capacity),
                        value.to_string(),
                    );
                }
            }
        }
        if let Some(rate) = &self.rate {
            let ms = Duration::from_millis;
            if !(ms(1)..=ms(3_600_000)).contains(&rate.max_wait) {
                bad(
                    "rate.max_wait",
                    "from 1ms to 1h".into(),
                    Exact(rate.max_wait).to_string(),
                );
            }
            if !(1..=RATE_BURST_MAX).contains(&rate.burst) {
                bad(
                    "rate.burst",
                    format!("from 1 to {RATE_BURST_MAX}"),
                    rate.burst.to_string(),
                );
            }
            if rate.settle > ms(60_000) {
                bad(
                    "rate.settle",
                    "at most 1m".into(),
                    Exact(rate.settle).to_string(),
                );
            }
        }
        if let Some(Err(e)) = self.fleet.as_ref().map(FleetConfig::validate) {
            out.push(e);
        }
        out
    }
}

/// A policy setting that breaks a rule, or a policy file that cannot be read.
///
/// Every message starts with the key, as it is written in a policy file (`backoff.cap`),
/// then says what was expected and what was found.
///
/// ```
/// let err = redial::Policy::builder().factor(f64::NAN).build().unwrap_err();
/// assert_eq!(err.to_string(), "backoff.factor: must be a finite number > 0, got NaN");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A value breaks a rule.
    #[error("{key}: must be {rule}, got {got}")]
    Invalid {
        /// The setting, as a policy file path (`backoff.cap`).
        key: String,
        /// What was expected.
        rule: String,
        /// What was found.
        got: String,
    },
    /// A key no policy has.
    #[error("{key}: unknown key{}", expected_hint(.expected))]
    UnknownKey {
        /// The key's path.
        key: String,
        /// The keys that table accepts.
        expected: String,
    },
    /// The file is not valid TOML or JSON, or a value has the wrong type.
    #[error("{key}: {message}")]
    Syntax {
        /// Where the problem is (the key path, or `line N` when no key applies).
        key: String,
        /// The parser's message.
        message: String,
    },
    /// A policy file could not be read: missing, unreadable, or neither `.toml` nor `.json`.
    #[error("{path}: {message}")]
    Read {
        /// The file's path.
        path: String,
        /// What went wrong.
        message: String,
    },
}

fn expected_hint(expected: &str) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!(" (expected one of {expected})")
    }
}

impl PolicyError {
    /// A value that breaks a rule.
    pub(crate) fn invalid(key: &str, rule: &str, got: String) -> PolicyError {
        PolicyError::Invalid {
            key: key.into(),
            rule: rule.into(),
            got,
        }
    }

    /// The key the error is about (for [`PolicyError::Read`], the file's path).
    ///
    /// ```
    /// let err = redial::Policy::builder().max_attempts(0).build().unwrap_err();
    /// assert_eq!(err.key(), "max_attempts");
    /// ```
    pub fn key(&self) -> &str {
        match self {
            PolicyError::Invalid { key, .. }
            | PolicyError::UnknownKey { key, .. }
            | PolicyError::Syntax { key, .. } => key,
            PolicyError::Read { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for preset in Preset::ALL {
            assert_eq!(
                preset.builder().build(),
                Ok(Policy::preset(preset)),
                "{preset}"
            );
        }
    }
}
