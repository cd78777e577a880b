//! The Try-it console in a real browser: Debian's `chromium`, headless, driven over the
//! DevTools protocol. The gateway serves the console in front of the emulator; each test
//! loads the page, fills forms with the keyboard (or by setting selects), sends, and reads
//! the page. They need a browser, so they are ignored unless asked for:
//! `cargo test -p plaid-gateway --test console -- --include-ignored` (`.ci/run` installs
//! chromium and runs every ignored test); asked for without a browser, they fail.
//! Screenshots of every operation's form and response go to `target/console-screenshots/`.

use std::path::{Path, PathBuf};

#[path = "support/snippets.rs"]
mod snippets;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

use chromiumoxide::Page;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::network::EventRequestWillBeSent;
use chromiumoxide::page::ScreenshotParams;
use futures_util::StreamExt;
use plaid_emulator::Emulator;
use plaid_gateway::{Caller, Config, Gateway, hash_token};
use plaid_sdk::{Environment, PlaidClient, Processor, Product};
use serde_json::Value;

/// A guard against a hang: every wait below is for something that must happen.
const PATIENCE: Duration = Duration::from_secs(60);

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PLAID_CONSOLE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A browser with one page, recording the page's requests; its profile is removed on drop.
struct Tab {
    /// The gateway's URL.
    url: String,
    page: Page,
    requests: Arc<Mutex<Vec<String>>>,
    profile: PathBuf,
    _browser: Browser,
    _handler: tokio::task::JoinHandle<()>,
}

impl Drop for Tab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The emulator, a gateway in front of it with one caller, and a tab on its console.
struct Console {
    tab: Tab,
    emulator: Emulator,
    gateway: Option<Gateway>,
    token: String,
}

impl std::ops::Deref for Console {
    type Target = Tab;
    fn deref(&self) -> &Tab {
        &self.tab
    }
}

/// Records CSP violations from the first line of the page on (a DevTools script, which the
/// page's own policy does not apply to).
const RECORD_VIOLATIONS: &str = "window.__violations = []; \
    document.addEventListener('securitypolicyviolation', (e) => \
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));";

/// The browser; a test that needs one fails without it (it only runs when asked for).
fn browser() -> PathBuf {
    chromium().unwrap_or_else(|| {
        panic!(
            "no chromium: install Debian's `chromium` (or set PLAID_CONSOLE_CHROMIUM) to run the console's tests"
        )
    })
}

/// Starts chromium with a fresh profile (named `name`) on a blank page whose requests are
/// recorded and whose documents record CSP violations, for the console of the gateway at `url`.
async fn launch(chromium: PathBuf, name: &str, url: String) -> Tab {
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .user_data_dir(&profile)
        .window_size(1100, 900)
        .args([
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .launch_timeout(PATIENCE)
        .request_timeout(PATIENCE)
        .build()
        .expect("browser config");
    let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
    let handler = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if event.is_err() {
                break;
            }
        }
    });
    let page = browser.new_page("about:blank").await.expect("page");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let mut sent = page
        .event_listener::<EventRequestWillBeSent>()
        .await
        .expect("network events");
    let record = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Some(event) = sent.next().await {
            record
                .lock()
                .expect("requests")
                .push(event.request.url.clone());
        }
    });
    page.evaluate_on_new_document(RECORD_VIOLATIONS)
        .await
        .expect("violation recorder");
    Tab {
        url,
        page,
        requests,
        profile,
        _browser: browser,
        _handler: handler,
    }
}

impl Console {
    /// The emulator, a gateway with the console in front of it, and a browser on the page.
    async fn start(name: &str) -> Console {
        let chromium = browser();
        let emulator = Emulator::start().await.expect("emulator");
        let token = "console-test-caller-token-0123456789".to_string();
        let caller = Caller::new("browser", &hash_token(&token)).expect("caller");
        let config = Config::new(
            emulator.base_url(),
            emulator.client_id(),
            emulator.secret(),
            vec![caller],
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let gateway = Gateway::start_on(listener, config).expect("gateway");
        let url = gateway.url();
        let tab = launch(chromium, name, url).await;
        let console = Console {
            tab,
            emulator,
            gateway: Some(gateway),
            token,
        };
        console.open("").await;
        console
    }

    fn client(&self) -> PlaidClient {
        PlaidClient::builder()
            .environment(Environment::custom(self.emulator.base_url()).expect("url"))
            .credentials(self.emulator.client_id(), self.emulator.secret())
            .build()
            .expect("client")
    }
}

impl Tab {
    /// Loads the console afresh (at `#operation`, when given) and waits until it is ready.
    async fn open(&self, operation: &str) {
        self.load(&format!("{}/console#{operation}", self.url))
            .await;
    }

    async fn eval<T: serde::de::DeserializeOwned>(&self, js: &str) -> T {
        let result = tokio::time::timeout(PATIENCE, self.page.evaluate(js))
            .await
            .unwrap_or_else(|_| panic!("no answer in time to {js}"))
            .unwrap_or_else(|e| panic!("{js}: {e}"));
        let value = result.value().cloned().unwrap_or(Value::Null);
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{js}: {e}"))
    }

    /// Waits until `condition` (a JavaScript expression) holds, re-checking on every change
    /// of the page.
    async fn wait(&self, condition: &str) {
        let js = format!(
            "new Promise((resolve) => {{
               const done = () => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }};
               if (done()) return resolve(true);
               const o = new MutationObserver(() => {{ if (done()) {{ o.disconnect(); resolve(true); }} }});
               o.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
             }})"
        );
        let _: bool = self.eval(&js).await;
    }

    async fn text(&self, selector: &str) -> String {
        self.eval(&format!(
            "document.querySelector({}).textContent",
            serde_json::to_string(selector).expect("json")
        ))
        .await
    }

    async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.eval(&format!(
            "document.querySelector({}).getAttribute({})",
            serde_json::to_string(selector).expect("json"),
            serde_json::to_string(name).expect("json")
        ))
        .await
    }

    /// Clicks into the element and types `text` with key events, as a person would.
    async fn type_into(&self, selector: &str, text: &str) {
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .click()
            .await
            .expect("click")
            .type_str(text)
            .await
            .expect("type");
    }

    async fn field(&self, path: &str, text: &str) {
        self.type_into(&format!("[data-field=\"{path}\"]"), text)
            .await;
    }

    /// Chooses `value` in the select of field `path`.
    async fn choose(&self, path: &str, value: &str) {
        let js = format!(
            "(() => {{ const s = document.querySelector('[data-field=\"{path}\"]');
               s.value = {value}; s.dispatchEvent(new Event('change', {{ bubbles: true }}));
               return s.value; }})()",
            value = serde_json::to_string(value).expect("json")
        );
        let chosen: String = self.eval(&js).await;
        assert_eq!(chosen, value, "{path} has no option {value}");
    }

    async fn check(&self, path: &str, value: &str) {
        self.click(&format!("[data-field=\"{path}\"] input[value=\"{value}\"]"))
            .await;
    }

    /// Clicks the element `selector` finds, as a person would.
    async fn click(&self, selector: &str) {
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    async fn caller_token(&self, token: &str) {
        self.type_into("#caller-token", token).await;
    }

    /// Clicks Send and waits for the response's status line; returns it.
    async fn send(&self) -> String {
        assert_eq!(
            self.attr("#send", "disabled").await,
            None,
            "Send is off: {}",
            self.text("#send-reason").await
        );
        let before: u64 = self
            .eval("Number(document.getElementById('response').dataset.seq || 0)")
            .await;
        self.click("#send").await;
        self.wait(&format!(
            "Number(document.getElementById('response').dataset.seq || 0) > {before}"
        ))
        .await;
        self.text("#response .status").await
    }

    async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        self.page
            .save_screenshot(
                ScreenshotParams::builder().full_page(true).build(),
                dir.join(format!("{name}.png")),
            )
            .await
            .expect("screenshot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn the_page_loads_under_its_policy_and_requests_nothing_elsewhere() {
    let c = Console::start("load").await;
    let origin = c.url.clone();
    let violations: Vec<String> = c.eval("window.__violations").await;
    assert_eq!(violations, Vec::<String>::new());
    let requests = c.requests.lock().expect("requests").clone();
    assert!(
        requests.iter().any(|u| u.ends_with("/console/app.js")),
        "{requests:?}"
    );
    for url in &requests {
        assert!(
            url.starts_with(&format!("{origin}/")) || url == "about:blank",
            "a request left the gateway's origin: {url}"
        );
    }
    // The recorder is not blind: an inline script is refused and reported.
    c.inline_scripts_are_refused().await;
    // The operations offered are the gateway's, each with a form.
    let offered: Vec<String> = c
        .eval("[...document.querySelectorAll('#operation option')].map(o => o.value)")
        .await;
    assert_eq!(offered.len(), plaid_sdk::OPERATIONS.len());
    c.screenshot("page").await;
}

/// On a wide screen the form sits beside the code and the response, which stay in view; on
/// a phone the four cards stack in document order (the keyboard's and screen readers' order
/// at every width). Screenshots of both go to `target/console-screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn wide_screens_show_the_form_beside_the_code_and_phones_stack_them() {
    use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
    let c = Console::start("layout").await;
    // Each card's box: left, right, top, bottom.
    let boxes = "['gateway-heading', 'operation-heading', 'snippets-heading', 'response-heading']
        .map((id) => document.getElementById(id).closest('section').getBoundingClientRect())
        .map((r) => [r.left, r.right, r.top, r.bottom])";
    for (width, height, phone) in [(1440_i32, 900, false), (390, 844, true)] {
        c.page
            .execute(SetDeviceMetricsOverrideParams::new(
                width, height, 1.0, phone,
            ))
            .await
            .expect("viewport");
        // The new size reaches the page with its next resize: wait for it.
        let resized: bool = c
            .eval(&format!(
                "new Promise((resolve) => {{
                   const ok = () => window.innerWidth === {width};
                   const poll = () => (ok() ? resolve(true) : requestAnimationFrame(poll));
                   window.addEventListener('resize', () => ok() && resolve(true));
                   poll();
                 }})"
            ))
            .await;
        assert!(resized);
        let cards: Vec<[f64; 4]> = c.eval(boxes).await;
        let [gateway, form, code, response] = [cards[0], cards[1], cards[2], cards[3]];
        if phone {
            for (above, below) in [(gateway, form), (form, code), (code, response)] {
                assert!(
                    below[2] >= above[3],
                    "stacked in order at {width}px: {cards:?}"
                );
            }
            assert!(cards.iter().all(|c| c[1] <= f64::from(width)), "{cards:?}");
        } else {
            assert!(form[2] >= gateway[3], "{cards:?}");
            assert!(
                code[0] >= form[1] && response[0] >= form[1],
                "beside: {cards:?}"
            );
            assert!(
                code[2] < form[3],
                "the code is level with the form: {cards:?}"
            );
            assert!(response[2] >= code[3], "{cards:?}");
            assert!(
                response[2] < f64::from(height),
                "the response is in view without scrolling: {cards:?}"
            );
        }
        c.screenshot(if phone { "layout-phone" } else { "layout-wide" })
            .await;
    }
}

/// One snippet is shown at a time, the picked language's; the pick is remembered in local
/// storage across loads, and nothing is stored before the user picks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn the_picked_snippet_language_is_shown_and_remembered() {
    let c = Console::start("language").await;
    let shown = "[...document.querySelectorAll('.snippet')].filter((s) => !s.hidden)
        .map((s) => s.dataset.language)";
    let stored = "JSON.stringify(Object.entries(localStorage))";
    assert_eq!(c.eval::<Vec<String>>(shown).await, ["rust"]);
    assert_eq!(c.eval::<String>(stored).await, "[]");
    c.choose_id("language", "curl").await;
    assert_eq!(c.eval::<Vec<String>>(shown).await, ["curl"]);
    assert_eq!(
        c.eval::<String>(stored).await,
        r#"[["plaid-console-language","curl"]]"#
    );
    c.open("item_get").await;
    assert_eq!(c.eval::<Vec<String>>(shown).await, ["curl"]);
    assert_eq!(
        c.eval::<String>("document.getElementById('language').value")
            .await,
        "curl"
    );
    // The hidden snippets are still written as the form changes (copy and tests read them).
    assert!(c.text("#rust-snippet").await.contains(".item_get("));
    assert!(c.text("#typescript-snippet").await.contains(".itemGet("));
    assert!(
        c.text("#python-snippet")
            .await
            .contains("from plaid.model.item_get_request import ItemGetRequest")
    );
    // Every language is offered, each with its own snippet.
    for language in ["typescript", "python", "rust", "curl"] {
        c.choose_id("language", language).await;
        assert_eq!(c.eval::<Vec<String>>(shown).await, [language]);
        c.screenshot(&format!("language-{language}")).await;
    }
    // A stored value the page does not offer is ignored.
    c.eval::<Value>("localStorage.setItem('plaid-console-language', 'cobol'), null")
        .await;
    c.open("item_get").await;
    assert_eq!(c.eval::<Vec<String>>(shown).await, ["rust"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn an_incomplete_form_keeps_send_off_and_marks_the_field() {
    let c = Console::start("incomplete").await;
    c.open("processor_token_create").await;
    assert_eq!(c.attr("#send", "disabled").await.as_deref(), Some(""));
    assert!(c.text("#send-reason").await.contains("caller token"));
    c.caller_token(&c.token).await;
    c.field(
        "access_token",
        "access-sandbox-00000000-0000-0000-0000-000000000000",
    )
    .await;
    let reason = c.text("#send-reason").await;
    assert!(reason.contains("account_id: required"), "{reason}");
    assert_eq!(c.attr("#send", "disabled").await.as_deref(), Some(""));
    // A field edited and left blank is marked, for assistive technology too.
    c.field("account_id", "x").await;
    c.page
        .find_element("[data-field=\"account_id\"]")
        .await
        .expect("field")
        .press_key("Backspace")
        .await
        .expect("key");
    assert_eq!(
        c.attr("[data-field=\"account_id\"]", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    let described = c
        .attr("[data-field=\"account_id\"]", "aria-describedby")
        .await
        .expect("described");
    let error_id = described
        .split(' ')
        .find(|id| id.ends_with("-error"))
        .expect("error id");
    assert_eq!(c.text(&format!("#{error_id}")).await, "required");
    // The spec's bounds are checked as the SDK checks them, in nested objects too.
    c.open("sandbox_public_token_create").await;
    c.caller_token(&c.token).await;
    c.field("institution_id", "ins_109508").await;
    c.check("initial_products", "auth").await;
    assert_eq!(c.text("#send-reason").await, "Ready to send.");
    c.eval::<Value>(
        "document.querySelectorAll('#optional-fields, [data-field=\"options\"], [data-field=\"options.transactions\"]')
           .forEach((d) => (d.open = true))",
    )
    .await;
    c.field("options.transactions.days_requested", "731").await;
    let reason = c.text("#send-reason").await;
    assert_eq!(
        reason,
        "Send is off: options.transactions.days_requested: at most 730."
    );
    assert_eq!(
        c.attr(
            "[data-field=\"options.transactions.days_requested\"]",
            "aria-invalid"
        )
        .await
        .as_deref(),
        Some("true")
    );
    c.screenshot("incomplete").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn a_filled_form_creates_a_processor_token_and_the_snippets_match_what_was_sent() {
    let c = Console::start("filled").await;
    let item = c.emulator.add_item();
    let account = item.accounts[0].account_id.clone();
    c.open("processor_token_create").await;
    // Keyboard only: the caller token, then Tab from field to field.
    c.page
        .find_element("#caller-token")
        .await
        .expect("token field")
        .focus()
        .await
        .expect("focus")
        .type_str(&c.token)
        .await
        .expect("type");
    c.field("access_token", &item.access_token).await;
    c.field("account_id", &account).await;
    c.choose("processor", "dwolla").await;
    assert_eq!(c.text("#send-reason").await, "Ready to send.");

    let rust = c.text("#rust-snippet").await;
    let curl = c.text("#curl-snippet").await;
    for snippet in [&rust, &curl] {
        assert!(snippet.contains(&account), "{snippet}");
        assert!(
            !snippet.contains(&item.access_token),
            "the access token is inlined: {snippet}"
        );
        assert!(
            !snippet.contains(&c.token),
            "the caller token is inlined: {snippet}"
        );
        assert!(!snippet.contains(c.emulator.secret()), "{snippet}");
    }
    assert!(rust.contains("Processor::Dwolla"), "{rust}");
    assert!(
        rust.contains("std::env::var(\"PLAID_ACCESS_TOKEN\")?"),
        "{rust}"
    );
    assert!(rust.contains(".processor_token_create("), "{rust}");
    assert!(
        curl.contains("\"access_token\": \"$PLAID_ACCESS_TOKEN\""),
        "{curl}"
    );
    assert!(curl.contains("$PLAID_GATEWAY_TOKEN"), "{curl}");

    // Enter in a field sends the form, as any form does.
    c.page
        .find_element("[data-field=\"account_id\"]")
        .await
        .expect("field")
        .focus()
        .await
        .expect("focus")
        .press_key("Enter")
        .await
        .expect("enter");
    c.wait("document.getElementById('response-status') !== null")
        .await;
    let status = c.text("#response-status").await;
    assert!(status.starts_with("HTTP 200"), "{status}");
    let request_id = c.text("#response-request-id").await;
    let body = c.text("#response-body").await;
    assert!(
        body.contains(&format!("\"request_id\": \"{request_id}\"")),
        "{body}"
    );
    assert!(
        body.contains("\"processor_token\": \"processor-sandbox-••••••••\""),
        "masked: {body}"
    );
    c.click("#reveal").await;
    let revealed = c.text("#response-body").await;
    let shown: Value = serde_json::from_str(&revealed).expect("json body");
    let token = shown["processor_token"].as_str().expect("token");
    assert!(
        token.starts_with("processor-sandbox-") && !token.contains('•'),
        "{token}"
    );
    assert_eq!(c.emulator.processor_token_count(), 1);

    // What reached the emulator is what the curl snippet says, the token variable filled in.
    let sent = c
        .emulator
        .requests()
        .last()
        .expect("a request")
        .json()
        .expect("json");
    let heredoc = curl
        .split("<<EOF\n")
        .nth(1)
        .and_then(|rest| rest.split("\nEOF").next())
        .expect("body in the snippet")
        .replace("$PLAID_ACCESS_TOKEN", &item.access_token);
    let snippet_body: Value = serde_json::from_str(&heredoc).expect("snippet body");
    assert_eq!(sent, snippet_body);

    // Nothing secret was stored.
    let stored: String = c
        .eval("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
        .await;
    assert_eq!(stored, "[[],[]]");
    c.screenshot("processor_token_create-sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn a_wrong_caller_token_shows_the_401_and_storage_holds_only_what_was_asked() {
    let c = Console::start("wrong-token").await;
    c.open("item_get").await;
    c.caller_token("not-the-token").await;
    c.field(
        "access_token",
        "access-sandbox-00000000-0000-0000-0000-000000000000",
    )
    .await;
    let status = c.send().await;
    assert!(status.starts_with("HTTP 401"), "{status}");
    let error = c.text("#response-error").await;
    assert!(
        error.contains("caller token") && error.contains("401"),
        "{error}"
    );
    assert!(error.contains("GATEWAY_ERROR / UNAUTHENTICATED"), "{error}");
    c.screenshot("wrong-token").await;

    // "Remember in this tab" keeps the caller token in sessionStorage, and nothing else.
    c.click("#remember").await;
    let stored: Value = c
        .eval("[Object.entries(localStorage), Object.entries(sessionStorage)]")
        .await;
    assert_eq!(
        stored,
        serde_json::json!([[], [["plaid-console-caller-token", "not-the-token"]]])
    );
    c.open("item_get").await;
    assert_eq!(
        c.eval::<String>("document.getElementById('caller-token').value")
            .await,
        "not-the-token"
    );
    c.click("#remember").await;
    let stored: String = c
        .eval("JSON.stringify(Object.entries(sessionStorage))")
        .await;
    assert_eq!(stored, "[]");

    // A gateway that is gone is named as such.
    let mut c = c;
    c.caller_token(&c.token.clone()).await;
    c.field(
        "access_token",
        "access-sandbox-00000000-0000-0000-0000-000000000000",
    )
    .await;
    c.gateway.take().expect("gateway").shutdown().await;
    let status = c.send().await;
    assert_eq!(status, "The request did not reach the gateway.");
    let text = c.text("#response").await;
    assert!(text.contains("still running"), "{text}");
    c.screenshot("gateway-gone").await;
}

/// The values to fill each operation's required (and a few optional) fields with, from a
/// Sandbox flow run through the SDK against the same emulator.
struct Flow {
    access_token: String,
    removable: String,
    account_id: String,
    public_token: String,
    processor_token: String,
    /// An Item untouched by the operations that change one (reset_login, removal), and a
    /// processor token of it: for the data calls and the partner's calls.
    healthy: String,
    healthy_processor_token: String,
    /// An Item whose access token `/item/access_token/invalidate` rotates.
    rotatable: String,
    /// A second Item, for the list of access tokens of `/link/token/create`.
    other: String,
    /// For the operations that use their token up (a public token is exchanged once, an Item
    /// removed once, an access token rotated once): one more token for each snippet run.
    spares: Vec<(&'static str, Vec<String>)>,
}

impl Flow {
    /// The token snippet run `run` (0-based, in [`RUNS`]) sends to `operation` in place of
    /// the form's, when the operation uses its token up.
    fn spare(&self, operation: &str, run: usize) -> Option<&str> {
        self.spares
            .iter()
            .find(|(name, _)| *name == operation)
            .map(|(_, tokens)| tokens[run].as_str())
    }
}

/// The languages whose snippets each operation's test runs, in order.
const RUNS: [&str; 4] = ["curl", "typescript", "python", "rust"];

async fn flow(c: &Console) -> Flow {
    let client = c.client();
    let item = c.emulator.add_item();
    let removable = c.emulator.add_item();
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .await
        .expect("public token");
    let created = client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("processor token");
    let mut public_tokens = Vec::new();
    for _ in RUNS {
        let public = client
            .sandbox_public_token_create("ins_109508", [Product::Auth])
            .await
            .expect("public token");
        public_tokens.push(public.public_token.expose_secret().to_string());
    }
    let items = || {
        RUNS.iter()
            .map(|_| c.emulator.add_item().access_token)
            .collect::<Vec<_>>()
    };
    let spares = vec![
        ("item_remove", items()),
        ("item_public_token_exchange", public_tokens),
        ("item_access_token_invalidate", items()),
    ];
    let healthy = c.emulator.add_item();
    let healthy_created = client
        .processor_token_create(
            healthy.access_token.as_str(),
            healthy.accounts[0].account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("processor token");
    Flow {
        healthy: healthy.access_token.clone(),
        healthy_processor_token: healthy_created.processor_token.expose_secret().to_string(),
        rotatable: c.emulator.add_item().access_token,
        other: c.emulator.add_item().access_token,
        spares,
        access_token: item.access_token.clone(),
        removable: removable.access_token.clone(),
        account_id: item.accounts[0].account_id.clone(),
        public_token: public.public_token.expose_secret().to_string(),
        processor_token: created.processor_token.expose_secret().to_string(),
    }
}

/// Every operation's form, filled as a user would, sends through the gateway and gets a 200;
/// and each language's snippet of that form, run as its users run it (curl under bash,
/// TypeScript with npm's `plaid` under node, Python with `plaid-python`, Rust with plaid-sdk),
/// sends the request the form describes through the gateway and gets a 200 too. Tokens come
/// from the environment, never from the snippet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium, and npm's plaid and plaid-python (bash .ci/snippet-libs)"]
async fn every_operations_form_sends_and_its_snippets_run_in_each_language() {
    let libs = snippets::libs();
    let dir = snippets::Workdir::new(&libs, "every");
    let prebuild = snippets::prebuild_rust();
    let c = Console::start("every").await;
    let f = flow(&c).await;
    let model: Value =
        serde_json::from_str(include_str!("../console/operations.json")).expect("operations.json");
    let mut rust_snippets = Vec::new();
    let mut typescript_files = Vec::new();
    let mut calls = Vec::new();
    // One page, as a user works through it: the caller token once, then each operation
    // picked from the list.
    c.caller_token(&c.token).await;
    for op in model["operations"].as_array().expect("operations") {
        let name = op["name"].as_str().expect("name");
        c.choose_id("operation", name).await;
        fill(&c, op, &f).await;
        let [rust, curl, typescript, python] = [
            "#rust-snippet",
            "#curl-snippet",
            "#typescript-snippet",
            "#python-snippet",
        ]
        .map(|id| c.text(id));
        let (rust, curl, typescript, python) =
            (rust.await, curl.await, typescript.await, python.await);
        assert!(!rust.contains("todo!()"), "{name}: {rust}");
        // The page sends first, with the form's tokens.
        let before = c.emulator.request_count();
        let status = c.send().await;
        c.screenshot(name).await;
        assert!(
            status.starts_with("HTTP 200"),
            "{name}: {status}: {}",
            c.text("#response").await
        );
        assert_eq!(
            c.emulator.request_count() - before,
            1,
            "{name}: the console sent once"
        );
        let sent = c
            .emulator
            .requests()
            .pop()
            .and_then(|r| r.json())
            .expect("JSON");
        let call = described(op, &curl, &sent);
        let (tokens, body) = call.environment(None);
        assert_eq!(
            sent, body,
            "{name}: the console sent what its snippets describe"
        );
        for snippet in [&rust, &curl, &typescript, &python] {
            for (_, token) in &tokens {
                assert!(
                    !snippet.contains(token.as_str()),
                    "a token in a snippet: {snippet}"
                );
            }
            assert!(
                !snippet.contains(&c.token),
                "the caller token in a snippet: {snippet}"
            );
        }
        typescript_files.push(dir.write(&format!("{name}.ts"), &typescript));
        dir.write(&format!("{name}.sh"), &curl);
        dir.write(&format!("{name}.py"), &python);
        if name == "link_token_create" {
            assert_eq!(
                sent["access_tokens"],
                serde_json::json!([f.access_token, f.other]),
                "both tokens, in order"
            );
            assert_eq!(
                sent["income_verification"],
                serde_json::json!({"stated_income_sources": [{"employer": "Acme", "pay_annual": 52000.5}]}),
                "one item of the list of objects"
            );
            assert!(
                rust.contains(".income_verification(")
                    && rust.contains(".stated_income_sources([")
                    && rust.contains(".employer(\"Acme\")")
                    && rust.contains(".pay_annual(52000.5f64)"),
                "{rust}"
            );
            assert!(
                rust.contains(".access_tokens([std::env::var(\"PLAID_ACCESS_TOKEN_1\")?.into(), std::env::var(\"PLAID_ACCESS_TOKEN_2\")?.into()])"),
                "{rust}"
            );
            assert!(
                curl.contains("\"$PLAID_ACCESS_TOKEN_1\",")
                    && curl.contains("\"$PLAID_ACCESS_TOKEN_2\""),
                "{curl}"
            );
            assert!(
                typescript.contains(
                    "access_tokens: [env(\"PLAID_ACCESS_TOKEN_1\"), env(\"PLAID_ACCESS_TOKEN_2\")]"
                ),
                "{typescript}"
            );
            assert!(
                python.contains("from plaid.model.products import Products")
                    && python.contains("products=[Products(\"auth\")]")
                    && python.contains("LinkTokenCreateRequestUserStatedIncomeSource(")
                    && python.contains("employer=\"Acme\",")
                    && python.contains("pay_annual=52000.5,"),
                "{python}"
            );
        }
        rust_snippets.push((name.to_string(), rust));
        calls.push(call);
        // The direct-to-Plaid variants, for one operation: run below against the emulator
        // itself (`PLAID_ENV` takes a URL), with its credentials.
        if name == "processor_token_create" {
            c.choose_id("client-mode", "direct").await;
            let rust = c.text("#rust-snippet").await;
            assert!(rust.contains("PlaidClient::from_env()"), "{rust}");
            rust_snippets.push(("processor_token_create_direct".into(), rust));
            let typescript = c.text("#typescript-snippet").await;
            assert!(
                typescript.contains("PlaidEnvironments[env(\"PLAID_ENV\")] ?? env(\"PLAID_ENV\")"),
                "{typescript}"
            );
            typescript_files.push(dir.write("processor_token_create_direct.ts", &typescript));
            let python = c.text("#python-snippet").await;
            assert!(python.contains("os.environ[\"PLAID_SECRET\"]"), "{python}");
            dir.write("processor_token_create_direct.py", &python);
            c.choose_id("client-mode", "gateway").await;
        }
    }
    assert_eq!(rust_snippets.len(), plaid_sdk::OPERATIONS.len() + 1);
    // TypeScript through `tsc --strict` (which writes the JavaScript node runs), Rust as one
    // program; then every snippet runs, operation by operation in the page's order, after
    // the Item that `/sandbox/item/reset_login` put in ITEM_LOGIN_REQUIRED is healthy again.
    snippets::compile_typescript(&libs, &dir, &typescript_files).await;
    let program = snippets::build_rust(prebuild, &rust_snippets).await;
    assert!(c.emulator.clear_item_error(&f.access_token));
    for call in &calls {
        let name = call.name.as_str();
        for (run, language) in RUNS.iter().enumerate() {
            let (mut env, expected) = call.environment(f.spare(name, run));
            env.push(("PLAID_GATEWAY_TOKEN".into(), c.token.clone()));
            let runner = Run {
                libs: &libs,
                dir: &dir,
                program: &program,
            };
            runner
                .sends(&c, language, name, &env, &call.path, &expected)
                .await;
        }
    }
    // Direct to Plaid (here the emulator, by URL), with Plaid's credentials and no gateway:
    // the same request, sent with the client id and secret as headers.
    assert!(c.emulator.clear_item_error(&f.access_token));
    let call = calls
        .iter()
        .find(|call| call.name == "processor_token_create")
        .expect("processor_token_create");
    for language in ["typescript", "python", "rust"] {
        let (mut env, expected) = call.environment(None);
        env.extend([
            ("PLAID_ENV".to_string(), c.emulator.base_url().to_string()),
            ("PLAID_CLIENT_ID".into(), c.emulator.client_id().to_string()),
            ("PLAID_SECRET".into(), c.emulator.secret().to_string()),
        ]);
        let name = "processor_token_create_direct";
        let runner = Run {
            libs: &libs,
            dir: &dir,
            program: &program,
        };
        runner
            .sends(&c, language, name, &env, &call.path, &expected)
            .await;
        let sent = c.emulator.requests().pop().expect("the request");
        assert_eq!(
            sent.header("plaid-client-id"),
            Some(c.emulator.client_id()),
            "{language}: the credentials as headers"
        );
        assert_eq!(sent.header("x-gateway-token"), None, "{language}");
    }
}

/// The request the open form describes, from its curl snippet (whose body the page sends, as
/// the curl test checks) and the request the page sent: the tokens it holds.
fn described(op: &Value, curl: &str, sent: &Value) -> snippets::Call {
    let (body, places) = snippets::curl_description(curl);
    let secrets = places
        .into_iter()
        .map(|(pointer, env)| {
            let token = sent
                .pointer(&pointer)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no token at {pointer} in {sent}"))
                .to_string();
            (pointer, env, token)
        })
        .collect();
    snippets::Call {
        name: op["name"].as_str().expect("name").to_string(),
        path: op["path"].as_str().expect("path").to_string(),
        body,
        secrets,
    }
}

/// Where the snippets of one test are, to run them.
struct Run<'a> {
    libs: &'a snippets::Libs,
    dir: &'a snippets::Workdir,
    program: &'a Path,
}

impl Run<'_> {
    /// Runs snippet `name` in `language` with `env`: it must succeed, having sent exactly one
    /// request, to `path`, with `expected` as its body.
    async fn sends(
        &self,
        c: &Console,
        language: &str,
        name: &str,
        env: &[(String, String)],
        path: &str,
        expected: &Value,
    ) {
        let before = c.emulator.request_count();
        let output = match language {
            "curl" => snippets::curl(self.dir, name, env).await,
            "typescript" => snippets::typescript(self.dir, name, env).await,
            "python" => snippets::python(self.libs, self.dir, name, env).await,
            _ => snippets::rust(self.program, name, env).await,
        };
        let label = format!("{name} in {language}");
        assert_sent(c, before, &label, path, expected, &output);
    }
}

/// The snippet run succeeded, and exactly one request reached the emulator since `before`:
/// to `path`, with `expected` as its body.
fn assert_sent(
    c: &Console,
    before: usize,
    label: &str,
    path: &str,
    expected: &Value,
    output: &std::process::Output,
) {
    let say = || {
        format!(
            "{label}:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    assert!(output.status.success(), "{}", say());
    assert_eq!(c.emulator.request_count() - before, 1, "{}", say());
    let sent = c.emulator.requests().pop().expect("a request");
    assert_eq!(sent.path, path, "{}", say());
    assert_eq!(sent.json().as_ref(), Some(expected), "{}", say());
}

/// Fills the form of `op` (open, with the caller token entered) with `f`'s values: every
/// required field, and the few optional ones the emulator needs to say yes (for
/// `/link/token/create`, also a list of two tokens and a list of objects with one item).
async fn fill(c: &Console, op: &Value, f: &Flow) {
    let name = op["name"].as_str().expect("name");
    for field in op["fields"].as_array().expect("fields") {
        if field["required"] != Value::Bool(true) {
            continue;
        }
        let path = field["name"].as_str().expect("name");
        match field["kind"].as_str().expect("kind") {
            "token" => {
                let value = match (name, path) {
                    ("item_remove", _) => f.removable.clone(),
                    ("item_access_token_invalidate", _) => f.rotatable.clone(),
                    ("accounts_balance_get" | "auth_get" | "identity_get", _) => f.healthy.clone(),
                    (_, "access_token") => f.access_token.clone(),
                    (_, "public_token") => f.public_token.clone(),
                    (
                        "processor_auth_get"
                        | "processor_balance_get"
                        | "processor_identity_get"
                        | "processor_account_get"
                        | "processor_token_webhook_update",
                        _,
                    ) => f.healthy_processor_token.clone(),
                    (_, "processor_token") => f.processor_token.clone(),
                    other => panic!("no value for token {other:?}"),
                };
                c.field(path, &value).await;
            }
            "string" => {
                let value = match path {
                    "account_id" => f.account_id.clone(),
                    "institution_id" => "ins_109508".into(),
                    "client_name" => "Console test".into(),
                    "language" => "en".into(),
                    "key_id" => c.emulator.webhook_key_id(),
                    other => format!("console-{other}"),
                };
                c.field(path, &value).await;
            }
            "enum" => {
                let value = match path {
                    "processor" => "dwolla",
                    "webhook_code" => "NEW_ACCOUNTS_AVAILABLE",
                    _ => field["enum"]["values"][0][0].as_str().expect("value"),
                };
                c.choose(path, value).await;
            }
            "enum_list" => {
                let value = match path {
                    "country_codes" => "US",
                    _ => "auth",
                };
                c.check(path, value).await;
            }
            other => panic!("{name}.{path}: no way to fill a required {other}"),
        }
    }
    // The few optional fields the emulator wants to say yes.
    match name {
        "link_token_create" => {
            c.eval::<Value>(
                "(['#optional-fields', '[data-field=\"user\"]']
                   .forEach((s) => (document.querySelector(s).open = true)), null)",
            )
            .await;
            c.field("user.client_user_id", "console-user-1").await;
            c.check("products", "auth").await;
            // A list of tokens: a second input on demand, each token masked.
            c.field("access_tokens[0]", &f.access_token).await;
            c.click("[data-field=\"access_tokens\"] button.add").await;
            c.field("access_tokens[1]", &f.other).await;
            let second = "[data-field=\"access_tokens[1]\"]";
            assert_eq!(c.attr(second, "type").await.as_deref(), Some("password"));
            c.click("[data-field=\"access_tokens\"] .row:nth-child(2) button")
                .await;
            assert_eq!(
                c.attr(second, "type").await.as_deref(),
                Some("text"),
                "shown on demand"
            );
            // A list of objects: one item added, two of its fields set.
            c.eval::<Value>(
                "(document.querySelector('[data-field=\"income_verification\"]').open = true, null)",
            )
            .await;
            c.click("[data-field=\"income_verification.stated_income_sources\"] button.add")
                .await;
            c.field(
                "income_verification.stated_income_sources[0].employer",
                "Acme",
            )
            .await;
            c.field(
                "income_verification.stated_income_sources[0].pay_annual",
                "52000.5",
            )
            .await;
            // A second item, filled and removed again: it is not sent.
            c.click("[data-field=\"income_verification.stated_income_sources\"] button.add")
                .await;
            c.field(
                "income_verification.stated_income_sources[1].employer",
                "Gone",
            )
            .await;
            c.click("[data-item=\"income_verification.stated_income_sources[1]\"] button.remove")
                .await;
        }
        "item_webhook_update" | "processor_token_webhook_update" => {
            c.eval::<Value>("(document.getElementById('optional-fields').open = true, null)")
                .await;
            c.field("webhook", "http://127.0.0.1:9/webhook").await;
        }
        _ => {}
    }
}

impl Tab {
    /// Adds an inline script to the page: the page's policy must refuse it (it does not run)
    /// and report it.
    async fn inline_scripts_are_refused(&self) {
        self.eval::<Value>(
            "(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
               document.head.append(s); return null; })()",
        )
        .await;
        self.wait("window.__violations.length > 0").await;
        let ran: Value = self.eval("window.__ran ?? null").await;
        assert_eq!(ran, Value::Null, "an inline script ran");
    }

    /// Loads `url` (the gateway's console, or a page apart from it) and waits until the
    /// console is ready.
    async fn load(&self, url: &str) {
        self.page.goto("about:blank").await.expect("navigate away");
        self.page.goto(url).await.expect("navigate");
        self.wait("document.body && document.body.dataset.ready === 'true'")
            .await;
    }

    async fn choose_id(&self, id: &str, value: &str) {
        let js = format!(
            "(() => {{ const s = document.getElementById('{id}'); s.value = '{value}';
               s.dispatchEvent(new Event('change', {{ bubbles: true }})); return s.value; }})()"
        );
        let chosen: String = self.eval(&js).await;
        assert_eq!(chosen, value);
    }
}

/// `plaid-gateway demo`, run as users run it: the URL and token it prints open a console on
/// which the Sandbox flow, one form after the other, ends in a processor token; it prints
/// nothing secret but the caller token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn the_demo_command_serves_a_console_that_creates_a_processor_token() {
    let chromium = browser();
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_plaid-gateway"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the demo");
    let mut lines = tokio::io::BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("the demo prints in time")
            .expect("read")
            .expect("the demo ended early");
        if let Some(rest) = line.trim().strip_prefix("console:") {
            url = rest.trim().strip_suffix("/console").map(str::to_string);
        }
        if let Some(rest) = line.trim().strip_prefix("caller token:") {
            token = Some(rest.trim().to_string());
        }
        printed.push(line);
    }
    let (url, token) = (url.expect("url"), token.expect("token"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(token.len() >= 32, "a fresh random token: {token}");
    let printed = printed.join("\n");
    assert!(
        !printed.contains(plaid_emulator::DEFAULT_SECRET),
        "{printed}"
    );

    let tab = launch(chromium, "demo", url).await;
    let reveal_and_read = async |field: &str| -> String {
        tab.click("#reveal").await;
        let body: Value = serde_json::from_str(&tab.text("#response-body").await).expect("json");
        body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {body}"))
            .to_string()
    };

    tab.open("sandbox_public_token_create").await;
    tab.caller_token(&token).await;
    tab.field("institution_id", "ins_109508").await;
    tab.check("initial_products", "auth").await;
    assert!(tab.send().await.starts_with("HTTP 200"));
    let public_token = reveal_and_read("public_token").await;

    tab.open("item_public_token_exchange").await;
    tab.caller_token(&token).await;
    tab.field("public_token", &public_token).await;
    assert!(tab.send().await.starts_with("HTTP 200"));
    let access_token = reveal_and_read("access_token").await;

    tab.open("accounts_get").await;
    tab.caller_token(&token).await;
    tab.field("access_token", &access_token).await;
    assert!(tab.send().await.starts_with("HTTP 200"));
    let body: Value = serde_json::from_str(&tab.text("#response-body").await).expect("json");
    let account_id = body["accounts"][0]["account_id"]
        .as_str()
        .expect("account")
        .to_string();

    tab.open("processor_token_create").await;
    tab.caller_token(&token).await;
    tab.field("access_token", &access_token).await;
    tab.field("account_id", &account_id).await;
    tab.choose("processor", "dwolla").await;
    assert!(tab.send().await.starts_with("HTTP 200"));
    let processor_token = reveal_and_read("processor_token").await;
    assert!(
        processor_token.starts_with("processor-sandbox-"),
        "{processor_token}"
    );
    let curl = tab.text("#curl-snippet").await;
    let rust = tab.text("#rust-snippet").await;
    for snippet in [&curl, &rust] {
        assert!(
            snippet.contains(&account_id)
                && (snippet.contains("\"dwolla\"") || snippet.contains("Processor::Dwolla")),
            "{snippet}"
        );
        assert!(
            !snippet.contains(&access_token) && !snippet.contains(&token),
            "{snippet}"
        );
    }
    tab.screenshot("demo-processor_token_create").await;
    let _ = demo.kill().await;
}

/// Serves the files of `dir` on a free loopback port: a static host apart from the gateway,
/// on another origin. Returns its origin.
async fn static_host(dir: PathBuf) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let dir = dir.clone();
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let name = match request.uri().path() {
                        "/" => "index.html".to_string(),
                        path => path.trim_start_matches('/').to_string(),
                    };
                    let file = (!name.contains(".."))
                        .then(|| std::fs::read(dir.join(&name)).ok())
                        .flatten();
                    let kind = match name.rsplit('.').next() {
                        Some("html") => "text/html; charset=utf-8",
                        Some("js") => "text/javascript; charset=utf-8",
                        Some("css") => "text/css; charset=utf-8",
                        _ => "application/json",
                    };
                    let (status, body) = match file {
                        Some(bytes) => (200, bytes),
                        None => (404, b"not found".to_vec()),
                    };
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", kind)
                                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                .expect("response"),
                        )
                    }
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    origin
}

/// `plaid-gateway console-export`, served by a static host on another origin: the page asks
/// for the gateway's URL (https, or http on this machine), remembers it in local storage and
/// nothing else there, sends through the gateway that lists its origin for CORS, requests
/// nothing from anywhere else, and explains the refusal of a gateway that does not list it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium"]
async fn the_exported_console_sends_through_the_gateway_it_is_given() {
    let chromium = browser();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-export");
    let _ = std::fs::remove_dir_all(&dir);
    plaid_gateway::export_console(&dir).expect("export");
    let origin = static_host(dir).await;

    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let token = "exported-console-caller-token-0123456789";
    let caller = Caller::new("browser", &hash_token(token)).expect("caller");
    let mut config = Config::new(
        emulator.base_url(),
        emulator.client_id(),
        emulator.secret(),
        vec![caller],
    );
    config.cors_origins = [origin.clone()].into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway = Gateway::start_on(listener, config.clone()).expect("gateway");
    let tab = launch(chromium, "export", gateway.url()).await;
    let page = format!("{origin}/index.html#item_get");
    tab.load(&page).await;
    let violations: Vec<String> = tab.eval("window.__violations").await;
    assert_eq!(violations, Vec::<String>::new());
    // The page's own policy holds without the gateway's header.
    tab.inline_scripts_are_refused().await;

    // No gateway yet: Send is off and says why; a URL off this machine over http is refused.
    tab.caller_token(token).await;
    tab.field("access_token", &item.access_token).await;
    assert_eq!(
        tab.text("#send-reason").await,
        "Send is off: enter the gateway's URL."
    );
    tab.type_into("#gateway-url-input", "http://gateway.example.com")
        .await;
    assert!(
        tab.text("#gateway-url-error").await.contains("use https"),
        "{}",
        tab.text("#gateway-url-error").await
    );
    assert!(tab.attr("#send", "disabled").await.is_some());

    // The gateway entered: the request goes there, through CORS, and succeeds.
    tab.eval::<Value>("(document.getElementById('gateway-url-input').value = '', null)")
        .await;
    tab.type_into("#gateway-url-input", &gateway.url()).await;
    assert_eq!(tab.text("#gateway-url-error").await, "");
    let status = tab.send().await;
    assert!(status.starts_with("HTTP 200"), "{status}");
    assert!(
        tab.text("#rust-snippet")
            .await
            .contains(&format!("{:?}", gateway.url())),
        "the snippet names the entered gateway"
    );
    let requests = tab.requests.lock().expect("requests").clone();
    assert!(requests.iter().any(|u| u.starts_with(&gateway.url())));
    for url in &requests {
        assert!(
            url.starts_with(&format!("{origin}/"))
                || url.starts_with(&format!("{}/", gateway.url()))
                || url == "about:blank",
            "a request went elsewhere: {url}"
        );
    }
    // Local storage holds the gateway's URL, and nothing else is stored.
    let stored: Value = tab
        .eval("[Object.entries(localStorage), Object.entries(sessionStorage)]")
        .await;
    assert_eq!(
        stored,
        serde_json::json!([[["plaid-console-gateway-url", gateway.url()]], []])
    );
    tab.screenshot("export-sent").await;

    // Remembered across loads; forgotten on request.
    tab.load(&page).await;
    assert_eq!(
        tab.eval::<String>("document.getElementById('gateway-url-input').value")
            .await,
        gateway.url()
    );

    // A gateway that does not list this page's origin: the refusal is explained.
    config.cors_origins.clear();
    gateway.reload(config).expect("reload");
    tab.caller_token(token).await;
    tab.field("access_token", &item.access_token).await;
    let status = tab.send().await;
    assert!(status.contains("did not reach the gateway"), "{status}");
    let explained = tab.text("#response").await;
    assert!(
        explained.contains("PLAID_GATEWAY_CORS_ORIGINS") && explained.contains(&origin),
        "{explained}"
    );
    tab.click("#gateway-url-forget").await;
    let stored: String = tab
        .eval("JSON.stringify(Object.entries(localStorage))")
        .await;
    assert_eq!(stored, "[]");
}
