//! "Continue in your browser": a step of the dialog that sends the user to the system browser
//! and waits on a one-time loopback receiver ([`stepup_client::loopback`]) for the answer. The
//! wallet page is the first such step (the social re-authentication's redirect is the next):
//! [`BrowserWait`] is what an open request keeps while it waits (the page's URL, for "Open the
//! page again", and the receiver's cancel, which every ending of the request pulls), and this
//! module also holds the wallet page itself and the reading of its answer.
//!
//! The page's URL is a capability (whoever has it can answer): it is kept as a [`Secret`],
//! never logged.

use crate::error::AppError;
use stepup_client::loopback::{Page, ReceiverCancel, ReceiverOptions, SchemeCallback};
use stepup_client::{Secret, WalletChallenge};

/// A page in the system browser that a request waits on.
pub struct BrowserWait {
    url: Secret,
    cancel: ReceiverCancel,
    /// Where a social redirect that comes back on the app's scheme goes (none on loopback).
    app_scheme: Option<SchemeCallback>,
}

impl std::fmt::Debug for BrowserWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserWait").finish_non_exhaustive()
    }
}

impl BrowserWait {
    /// The wait of a receiver serving `url`, ended by `cancel`.
    pub fn new(url: String, cancel: ReceiverCancel) -> Self {
        Self {
            url: Secret::new(url),
            cancel,
            app_scheme: None,
        }
    }

    /// The same wait, whose answer comes back as a link of the app's scheme to `callback`.
    pub fn with_app_scheme(mut self, callback: Option<SchemeCallback>) -> Self {
        self.app_scheme = callback;
        self
    }

    /// Where an app-scheme redirect for this wait goes, if it waits for one.
    pub fn app_scheme_callback(&self) -> Option<&SchemeCallback> {
        self.app_scheme.as_ref()
    }

    /// The page's URL (to open it again).
    pub fn url(&self) -> &str {
        self.url.expose()
    }

    /// Ends the wait: the receiver stops and closes its port.
    pub fn end(&self) {
        self.cancel.cancel();
    }
}

/// The longest signature the wallet page may send (65 bytes of hex are 132 characters).
const MAX_SIGNATURE_CHARS: usize = 256;
/// The longest address the wallet page may send.
const MAX_ADDRESS_CHARS: usize = 64;
/// How much of the wallet's own error text is kept (it is shown, as text, in the dialog).
const MAX_REASON_CHARS: usize = 160;
/// EIP-1193's "user rejected the request".
const USER_REJECTED: i64 = 4001;

/// What the wallet page answered.
#[derive(Debug, PartialEq, Eq)]
pub enum WalletPageAnswer {
    /// The wallet signed: the signature (checked by the client before it is sent).
    Signed {
        /// The signature, as the wallet gave it.
        signature: Secret,
    },
    /// The wallet did not sign (refused, no account, an error), with its words.
    Refused(AppError),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    signature: Option<String>,
    address: Option<String>,
    error: Option<String>,
    code: Option<i64>,
}

/// Reads the wallet page's POSTed JSON (`{signature, address}` or `{error, code}`), bounded: the
/// receiver caps the body at 16 KiB, each field is capped here. Anything else is refused.
pub fn read_wallet_answer(body: &[u8]) -> Result<WalletPageAnswer, AppError> {
    let bad = || AppError::WalletPage("the page sent an answer this app cannot read".into());
    let raw: RawAnswer = serde_json::from_slice(body).map_err(|_| bad())?;
    match (raw.signature, raw.error) {
        (Some(signature), None) => {
            if signature.len() > MAX_SIGNATURE_CHARS
                || raw
                    .address
                    .as_ref()
                    .is_some_and(|a| a.len() > MAX_ADDRESS_CHARS)
            {
                return Err(bad());
            }
            Ok(WalletPageAnswer::Signed {
                signature: Secret::new(signature),
            })
        }
        (None, Some(error)) => {
            if raw.code == Some(USER_REJECTED) {
                return Ok(WalletPageAnswer::Refused(AppError::WalletPage(
                    "you refused the signature in the wallet: press “Sign in your browser wallet” to try again, or choose another way".into(),
                )));
            }
            let reason: String = error
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_REASON_CHARS)
                .collect();
            let reason = if reason.trim().is_empty() {
                "it gave no reason".to_owned()
            } else {
                format!("it said “{}”", reason.trim())
            };
            Ok(WalletPageAnswer::Refused(AppError::WalletPage(format!(
                "{reason}: try again, or paste a signature made elsewhere"
            ))))
        }
        _ => Err(bad()),
    }
}

/// Text for HTML (element content and attribute values). `%` too: the receiver puts its CSP
/// nonce wherever `%CSP_NONCE%` is, and a message (its nonce is the server's) must not say it.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '%' => out.push_str("&#37;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON string literal safe inside `<script>` (no `<`, `>`, `&`, nor the JS line breaks).
fn script_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned())
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The receiver of the wallet page for `challenge`: the page (the message, one button that
/// asks `window.ethereum` for `eth_requestAccounts` then `personal_sign`, and POSTs the answer
/// once) and the reply it gets when its answer is taken.
pub fn wallet_page(challenge: &WalletChallenge) -> ReceiverOptions {
    ReceiverOptions {
        accept: stepup_client::loopback::Accept::Post,
        page: Some(Page::new(wallet_page_html(challenge))),
        done_page: Page::new(
            "<!doctype html><meta charset=\"utf-8\"><title>Stepup Desktop</title><p>Received.</p>",
        ),
    }
}

/// The wallet page's HTML for `challenge` (the receiver puts its nonce in).
pub fn wallet_page_html(challenge: &WalletChallenge) -> String {
    // personal_sign takes the message hex-encoded (its UTF-8 bytes), as wallets expect.
    let message_hex = format!("0x{}", hex_of(challenge.message.as_bytes()));
    WALLET_PAGE
        .replace("{{ADDRESS_TEXT}}", &html_escape(&challenge.address))
        .replace("{{MESSAGE_TEXT}}", &html_escape(&challenge.message))
        .replace("{{ADDRESS_JSON}}", &script_string(&challenge.address))
        .replace("{{MESSAGE_HEX_JSON}}", &script_string(&message_hex))
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The wallet page: plain HTML, its style and script inline under the receiver's CSP nonce, no
/// third-party anything. `{{…}}` are filled by [`wallet_page`].
const WALLET_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign with your browser wallet · Stepup Desktop</title>
<style nonce="%CSP_NONCE%">
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
  pre { white-space: pre-wrap; word-break: break-word; max-height: 20rem; overflow: auto; padding: .75rem; border: 1px solid #8888; border-radius: 6px; font-family: ui-monospace, monospace; font-size: .9rem; }
  button { font: inherit; padding: .5rem 1rem; }
  [data-state=error], [data-state=no-wallet], [data-state=refused] { color: #b00020; }
</style>
</head>
<body>
<main>
<h1>Sign with your browser wallet</h1>
<p>Stepup Desktop asks the wallet <code id="address">{{ADDRESS_TEXT}}</code> to sign this message. Signing costs nothing and sends no transaction.</p>
<pre id="message" tabindex="0" aria-label="The message to sign">{{MESSAGE_TEXT}}</pre>
<p><button type="button" id="sign">Sign with my wallet</button></p>
<p id="status" role="status" aria-live="polite"></p>
</main>
<script nonce="%CSP_NONCE%">
(() => {
  const ADDRESS = {{ADDRESS_JSON}};
  const MESSAGE_HEX = {{MESSAGE_HEX_JSON}};
  const button = document.getElementById('sign');
  const status = document.getElementById('status');
  let answered = false;
  const show = (text, state) => { status.textContent = text; status.dataset.state = state; };
  const noWallet = () => {
    button.hidden = true;
    show('No browser wallet was found in this browser (there is no window.ethereum). Go back to Stepup Desktop and choose “Paste a signature”: sign the message shown there with your wallet’s own tool, and paste the signature.', 'no-wallet');
  };
  // Once: the first answer ends the app's wait and closes this page's server.
  const answer = async (body) => {
    if (answered) return false;
    answered = true;
    try {
      const reply = await fetch('answer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit', cache: 'no-store', redirect: 'error' });
      return reply.ok;
    } catch {
      return false;
    }
  };
  if (!window.ethereum) noWallet();
  // Wallets that inject late say so with this event (MetaMask's convention).
  window.addEventListener('ethereum#initialized', () => {
    if (window.ethereum && !answered) { button.hidden = false; show('', 'ready'); }
  }, { once: true });
  button.addEventListener('click', async () => {
    const ethereum = window.ethereum;
    if (!ethereum) { noWallet(); return; }
    if (answered) return;
    button.disabled = true;
    show('Waiting for your wallet: confirm in its window.', 'waiting');
    try {
      const accounts = await ethereum.request({ method: 'eth_requestAccounts' });
      const list = Array.isArray(accounts) ? accounts.filter((a) => typeof a === 'string') : [];
      const account = list.find((a) => a.toLowerCase() === ADDRESS.toLowerCase()) ?? list[0];
      if (!account) throw new Error('the wallet gave no account');
      const signature = await ethereum.request({ method: 'personal_sign', params: [MESSAGE_HEX, account] });
      if (typeof signature !== 'string') throw new Error('the wallet gave no signature');
      const ok = await answer({ signature, address: account });
      show(ok ? 'Signed and sent. Go back to Stepup Desktop: it checks the signature there. You can close this tab.'
        : 'Stepup Desktop did not take this answer (it was cancelled, or already answered). Go back to the app.', ok ? 'sent' : 'refused');
    } catch (error) {
      const code = typeof error?.code === 'number' ? error.code : null;
      const ok = await answer({ error: String(error?.message ?? error).slice(0, 300), code });
      show(code === 4001 ? 'You refused the signature. Go back to Stepup Desktop to try again or choose another way.'
        : `Your wallet did not sign: ${String(error?.message ?? error).slice(0, 300)}. Go back to Stepup Desktop.`, ok ? 'error' : 'refused');
    }
  });
})();
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(message: &str) -> WalletChallenge {
        WalletChallenge {
            address: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf".into(),
            message: message.into(),
            wallet_name: "metamaskevm".into(),
            wallet_provider: "browserExtension".into(),
            chain_id: 1,
        }
    }

    #[test]
    fn the_page_shows_the_message_as_text_and_carries_it_hex_encoded() {
        let c = challenge("a.example wants you\n<script>x</script> & \u{2028}é");
        let html = wallet_page_html(&c);
        assert!(html
            .contains("a.example wants you\n&lt;script&gt;x&lt;/script&gt; &amp; \u{2028}é</pre>"));
        assert!(
            !html.contains("<script>x"),
            "the message is text, never markup"
        );
        assert!(html.contains(&format!("\"0x{}\"", hex_of(c.message.as_bytes()))));
        assert!(html.contains("const ADDRESS = \"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf\";"));
        assert!(!html.contains("{{"), "every placeholder filled");
        assert_eq!(
            html.matches("nonce=\"%CSP_NONCE%\"").count(),
            2,
            "the style and the script"
        );
        assert!(!html.contains("src="), "no external script or image");
        let options = wallet_page(&c);
        assert_eq!(
            html_escape("<script>x</script> & \""),
            "&lt;script&gt;x&lt;/script&gt; &amp; &quot;"
        );
        assert_eq!(
            script_string("</script>\u{2028}&"),
            "\"\\u003c/script\\u003e\\u2028\\u0026\""
        );
        assert_eq!(hex_of("hé".as_bytes()), "68c3a9");
        assert_eq!(options.accept, stepup_client::loopback::Accept::Post);
    }

    #[test]
    fn answers_are_read_bounded_and_strict() {
        let sig = format!("0x{}1b", "ab".repeat(64));
        let signed = read_wallet_answer(
            format!(
                r#"{{"signature":"{sig}","address":"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"}}"#
            )
            .as_bytes(),
        )
        .expect("read");
        assert_eq!(
            signed,
            WalletPageAnswer::Signed {
                signature: Secret::new(sig)
            }
        );
        let rejected = read_wallet_answer(br#"{"error":"User rejected the request.","code":4001}"#)
            .expect("read");
        assert!(
            matches!(rejected, WalletPageAnswer::Refused(AppError::WalletPage(ref m)) if m.contains("you refused"))
        );
        let other = read_wallet_answer(b"{\"error\":\"boom\\u0007 \\nbad\",\"code\":-32000}")
            .expect("read");
        match other {
            WalletPageAnswer::Refused(AppError::WalletPage(m)) => {
                assert!(m.contains("“boom bad”"), "{m}");
                assert!(!m.chars().any(char::is_control));
            }
            other => panic!("{other:?}"),
        }
        let long = format!(r#"{{"error":"{}"}}"#, "x".repeat(5000));
        match read_wallet_answer(long.as_bytes()).expect("read") {
            WalletPageAnswer::Refused(AppError::WalletPage(m)) => assert!(m.len() < 400),
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"not json"[..],
            br#"{}"#,
            br#"{"signature":"0x1","error":"x"}"#,
            br#"{"signature":"0x1","extra":1}"#,
            br#"{"signature":42}"#,
            format!(r#"{{"signature":"{}"}}"#, "a".repeat(300)).as_bytes(),
        ] {
            assert!(
                matches!(read_wallet_answer(bad), Err(AppError::WalletPage(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
