//! The engine's limits (spec 03 §8) and the pacing formula between steps (§4.4).

use std::time::Duration;

/// The limits a process runs under. `Default` gives the self-hosted defaults of spec 03 §8.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Node entries per step (`BPM_STEP_SIZE`, 100).
    pub step_size: u32,
    /// Longest step (`BPM_STEP_TIMEOUT`, `step_size × 10 s`); the step ends after the node
    /// running when it passes.
    pub step_timeout: Duration,
    /// The pacing delay reached at step `step_max_delay_on` (`BPM_STEP_MAX_DELAY`, 1 h).
    pub step_max_delay: Duration,
    /// The step number at which the delay reaches `step_max_delay` (`BPM_STEP_MAX_DELAY_ON`,
    /// 1000).
    pub step_max_delay_on: u32,
    /// Largest total JSON size of the variables, in bytes (`BPM_PROCESS_DATA_LIMIT`, 102 400).
    pub process_data_limit: usize,
    /// Most records one Find records call may ask for (1000).
    pub find_limit_max: u32,
    /// Deadline of a Web request (60 s).
    pub web_timeout: Duration,
    /// Largest file a component downloads or converts, in bytes (`BPM_DOWNLOAD_DATA_LIMIT`,
    /// also spelt `BPM_DOWNLOA_DATA_LIMIT`; 10 MiB).
    pub download_limit: usize,
    /// The chat-completions URL of AI requests for every service (`BPM_AI_URL`); `None`: each
    /// service's public endpoint. A component's own `url` wins.
    pub ai_url: Option<String>,
    /// The API key of AI requests without a `token` (`BPM_AI_TOKEN`).
    pub ai_token: Option<String>,
    /// The model of AI requests without a `model` (`BPM_AI_MODEL`).
    pub ai_model: Option<String>,
    /// The Telegram Bot API base URL (`BPM_TELEGRAM_API`, `https://api.telegram.org`).
    pub telegram_api: String,
    /// Deadlines and memory of JavaScript (`BPM_EXPRESSION_TIMEOUT`, `BPM_CODE_TIMEOUT`).
    pub script: kartoteka_script::Limits,
    /// Threads that run JavaScript, each with its warm sandbox (`BPM_THREADS`; by default
    /// three per core, at least 4 and at most 10, spec 03 §8).
    pub script_threads: usize,
}

/// `BPM_THREADS` when unset: three per core, within 4..=10.
fn default_threads() -> usize {
    let cores = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(2);
    (cores * 3).clamp(4, 10)
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            step_size: 100,
            step_timeout: Duration::from_secs(100 * 10),
            step_max_delay: Duration::from_secs(3600),
            step_max_delay_on: 1000,
            process_data_limit: 102_400,
            find_limit_max: 1000,
            web_timeout: Duration::from_secs(60),
            download_limit: 10 * 1024 * 1024,
            ai_url: None,
            ai_token: None,
            ai_model: None,
            telegram_api: "https://api.telegram.org".to_owned(),
            script: kartoteka_script::Limits::default(),
            script_threads: default_threads(),
        }
    }
}

impl Settings {
    /// Reads the settings from the environment: the `BPM_*` names of spec 03 §8, where a
    /// `BPIUM_`-prefixed name wins over the bare one. Durations are milliseconds, sizes bytes.
    /// Unset or unreadable values keep their defaults (an unreadable one is logged).
    ///
    /// Names: `BPM_STEP_SIZE`, `BPM_STEP_TIMEOUT`, `BPM_STEP_MAX_DELAY`,
    /// `BPM_STEP_MAX_DELAY_ON`, `BPM_PROCESS_DATA_LIMIT`, `BPM_EXPRESSION_TIMEOUT`,
    /// `BPM_CODE_TIMEOUT`, `BPM_DOWNLOAD_DATA_LIMIT` (or the documented misspelling
    /// `BPM_DOWNLOA_DATA_LIMIT`), and some the spec does not name: `BPM_FIND_LIMIT_MAX`,
    /// `BPM_WEB_REQUEST_TIMEOUT` and the texts `BPM_AI_URL`, `BPM_AI_TOKEN`, `BPM_AI_MODEL`,
    /// `BPM_TELEGRAM_API`; `BPM_THREADS` sets the JavaScript threads.
    pub fn from_env() -> Settings {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Settings::from_env`] over any lookup, so callers (and tests) need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let get = |name: &str| -> Option<u64> {
            let raw = lookup(&format!("BPIUM_{name}")).or_else(|| lookup(name))?;
            match raw.trim().parse::<u64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    tracing::warn!(name, value = %raw, "ignoring a setting that is not a whole number");
                    None
                }
            }
        };
        let ms = Duration::from_millis;
        let mut s = Settings::default();
        if let Some(v) = get("BPM_STEP_SIZE") {
            s.step_size = u32::try_from(v).unwrap_or(u32::MAX).max(1);
        }
        // The self-hosted default of the step timeout follows the step size.
        s.step_timeout = get("BPM_STEP_TIMEOUT")
            .map(ms)
            .unwrap_or_else(|| Duration::from_secs(u64::from(s.step_size) * 10));
        if let Some(v) = get("BPM_STEP_MAX_DELAY") {
            s.step_max_delay = ms(v);
        }
        if let Some(v) = get("BPM_STEP_MAX_DELAY_ON") {
            s.step_max_delay_on = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = get("BPM_PROCESS_DATA_LIMIT") {
            s.process_data_limit = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = get("BPM_FIND_LIMIT_MAX") {
            s.find_limit_max = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = get("BPM_WEB_REQUEST_TIMEOUT") {
            s.web_timeout = ms(v);
        }
        if let Some(v) = get("BPM_DOWNLOAD_DATA_LIMIT").or_else(|| get("BPM_DOWNLOA_DATA_LIMIT")) {
            s.download_limit = usize::try_from(v).unwrap_or(usize::MAX);
        }
        let text = |name: &str| {
            lookup(&format!("BPIUM_{name}"))
                .or_else(|| lookup(name))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        s.ai_url = text("BPM_AI_URL");
        s.ai_token = text("BPM_AI_TOKEN");
        s.ai_model = text("BPM_AI_MODEL");
        if let Some(v) = text("BPM_TELEGRAM_API") {
            s.telegram_api = v;
        }
        if let Some(v) = get("BPM_EXPRESSION_TIMEOUT") {
            s.script.expression_timeout = ms(v);
        }
        if let Some(v) = get("BPM_CODE_TIMEOUT") {
            s.script.code_timeout = ms(v);
        }
        if let Some(v) = get("BPM_THREADS") {
            s.script_threads = usize::try_from(v).unwrap_or(1).max(1);
        }
        s
    }
}

/// The wait between step `step` and the next (spec 03 §4.4):
/// `step_max_delay × log10(step / step_max_delay_on + 1) / log10(2)`.
///
/// It reaches `step_max_delay` at step `step_max_delay_on` and keeps growing, slowly, after
/// it. Step 0 waits nothing.
pub fn pacing_delay(s: &Settings, step: u64) -> Duration {
    let on = f64::from(s.step_max_delay_on.max(1));
    // `step as f64` loses precision only beyond 2^53 steps.
    let ratio = step as f64 / on;
    let secs = s.step_max_delay.as_secs_f64() * (ratio + 1.0).log2();
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}
