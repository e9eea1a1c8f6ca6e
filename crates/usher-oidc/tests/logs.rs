//! What the token endpoint logs must not hand a reader a way in: a refresh token
//! is `{family}.{secret}`, and `{family}.anything` presented to the token endpoint
//! revokes a public client's family (reuse detection, RFC 9700 §4.14.2), so a log
//! line that names the family id lets whoever reads the logs sign users out.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use crate::token_env::*;

/// Everything logged while the guard of [`Logs::capture`] lives, on this thread
/// (the test runtime runs the app in-process on the test's thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[actix_web::test]
async fn reuse_warnings_do_not_log_the_family_id_a_log_reader_could_revoke_with() {
    let env = Env::new().await;
    let logs = Logs::default();
    let _guard = logs.capture();

    // Refresh-token reuse.
    let rt1 = env.tokens(BASIC).await.text("refresh_token");
    let family = rt1.split_once('.').unwrap().0.to_owned();
    assert_eq!(env.refresh(BASIC, &rt1, &[]).await.status, 200);
    assert_eq!(env.refresh(BASIC, &rt1, &[]).await.error(), "invalid_grant");
    // Code reuse.
    let code = env.code(&env.record(BASIC)).await;
    let rt2 = env.redeem(BASIC, &code, &[]).await.text("refresh_token");
    let family2 = rt2.split_once('.').unwrap().0.to_owned();
    assert_eq!(env.redeem(BASIC, &code, &[]).await.error(), "invalid_grant");

    let text = logs.text();
    assert!(text.contains("presented again"), "{text}");
    assert!(text.contains("presented twice"), "{text}");
    assert!(!text.contains(&family), "{text}");
    assert!(!text.contains(&family2), "{text}");
}
