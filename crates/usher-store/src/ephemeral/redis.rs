//! The ephemeral store on Redis: what several instances share.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, RedisResult, Script, Value, cmd};
use async_trait::async_trait;
use usher_core::ports::EphemeralStore;
use usher_core::{Error, Result};

use super::{
    MAX_SET_MEMBERS, check_key, check_member, check_write, set_full, ttl_millis, wrong_kind,
};

/// Each TCP connection attempt gives up after this long (a black-holed address).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A command without an answer after this long fails. Everything here is O(1) in
/// Redis; two seconds means the server or the network is in trouble.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection attempts after the first, per (re)connection. Few, because the
/// caller is a browser waiting on a login: a quick retryable error beats a long wait,
/// and the next request starts a new attempt anyway.
const CONNECT_RETRIES: usize = 1;
/// Outer bound on `connect` and on any one operation, whatever the driver does inside
/// (name resolution, reconnect back-off): the promise is "unavailable within a few
/// seconds", never a hang.
const DEADLINE: Duration = Duration::from_secs(5);

/// `INCR`, and `PEXPIRE` only when the counter was just created, in one atomic script:
/// the window is fixed (later increments do not extend it) and a crash between the two
/// commands cannot leave a counter without TTL, which would rate-limit its key forever.
const INCREMENT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
";

/// `SADD` (refused beyond the member bound) and `PEXPIRE` only when that lengthens the
/// TTL, in one atomic script: the set's TTL only grows, and no crash or concurrent add
/// can leave it without a TTL or with a shorter one than some add asked for. Returns
/// -1 when the set is full, else 0. A key holding a plain value raises `WRONGTYPE` at
/// the first call. `PTTL` is -1 for a key without TTL (none of ours), which also gets
/// one here.
///
/// `PEXPIRE ... GT` (Redis 7) would do the second half, but treats a key without TTL
/// as infinite and would never give it one; the explicit comparison is clearer and
/// runs on Redis 6.2 too.
const ADD_TO_SET_SCRIPT: &str = r"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return -1
  end
  redis.call('SADD', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// The ephemeral store on Redis (or anything speaking its protocol, such as Valkey).
///
/// Every key is stored as `prefix + key`, so several deployments or test runs can share
/// one Redis. Commands: `put` is `SET PX`, `get` is `GET`, `take` is `GETDEL` (atomic,
/// Redis 6.2 or later), `put_if_absent` is `SET NX PX`, `increment` is a Lua script,
/// `add_to_set` is a Lua script (`SADD` and a conditional `PEXPIRE`), `remove_from_set`
/// is `SREM` (Redis deletes a set when its last member goes), `set_members` is
/// `SMEMBERS`, `delete` is `DEL`, `ping` is `PING`. A `WRONGTYPE` reply (a set read as a
/// value or the other way round) is a caller bug and becomes [`Error::Invalid`], like
/// the memory store's. The same key, value and TTL limits as
/// [`super::MemoryEphemeralStore`] are checked before anything is sent.
///
/// The connection is a multiplexed [`ConnectionManager`] that reconnects by itself.
/// Every failure (unreachable server, timeout, server error such as `OOM` under
/// `maxmemory-policy noeviction`, which usher's Redis should use so that nothing live
/// is silently evicted) becomes [`Error::Unavailable`] naming the command and the
/// server, with any password in the URL redacted; keys are never put in messages
/// since they carry session ids and codes.
#[derive(Clone)]
pub struct RedisEphemeralStore {
    conn: ConnectionManager,
    prefix: String,
    /// The server URL with its password redacted, for messages.
    server: String,
    increment: Script,
    add_to_set: Script,
}

impl RedisEphemeralStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port/db`, or
    /// `rediss://` for TLS when the driver is built with it) and namespaces every key
    /// with `prefix` (for example `usher:`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the URL does not parse;
    /// [`Error::Unavailable`] within a few seconds when the server cannot be reached,
    /// so a misconfigured deployment fails at startup rather than at the first login.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let server = redact_url(url);
        let client = Client::open(url)
            .map_err(|e| Error::Invalid(format!("Redis URL {server} is not valid: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(CONNECT_RETRIES)
            .set_max_delay(Duration::from_millis(500));
        let conn = match tokio::time::timeout(
            DEADLINE,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(Error::Unavailable(format!(
                    "cannot connect to Redis at {server}: {e}"
                )));
            }
            Err(_) => {
                return Err(Error::Unavailable(format!(
                    "cannot connect to Redis at {server}: no answer within {DEADLINE:?}"
                )));
            }
        };
        tracing::debug!(server = %server, prefix, "connected to Redis ephemeral store");
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            server,
            increment: Script::new(INCREMENT_SCRIPT),
            add_to_set: Script::new(ADD_TO_SET_SCRIPT),
        })
    }

    /// The namespaced Redis key for a caller's key.
    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    /// Runs one command under [`DEADLINE`] and maps its failure.
    async fn run<T>(
        &self,
        command: &'static str,
        fut: impl Future<Output = RedisResult<T>> + Send,
    ) -> Result<T> {
        self.timed(command, fut)
            .await?
            .map_err(|e| self.unavailable(command, &e))
    }

    /// Runs one command under [`DEADLINE`], leaving its own error to the caller.
    async fn timed<T>(
        &self,
        command: &'static str,
        fut: impl Future<Output = RedisResult<T>> + Send,
    ) -> Result<RedisResult<T>> {
        tokio::time::timeout(DEADLINE, fut).await.map_err(|_| {
            Error::Unavailable(format!(
                "Redis {command} on {}: no answer within {DEADLINE:?}",
                self.server
            ))
        })
    }

    /// Runs one command under [`DEADLINE`], mapping `WRONGTYPE` to the caller bug it is
    /// ([`wrong_kind`]) and every other failure to unavailable.
    async fn run_typed<T>(
        &self,
        command: &'static str,
        fut: impl Future<Output = RedisResult<T>> + Send,
    ) -> Result<T> {
        self.timed(command, fut).await?.map_err(|e| {
            if is_wrong_type(&e) {
                wrong_kind()
            } else {
                self.unavailable(command, &e)
            }
        })
    }

    fn unavailable(&self, command: &str, e: &RedisError) -> Error {
        Error::Unavailable(format!("Redis {command} on {}: {e}", self.server))
    }
}

impl fmt::Debug for RedisEphemeralStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisEphemeralStore")
            .field("server", &self.server)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EphemeralStore for RedisEphemeralStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let millis = check_write(key, value, ttl)?;
        let mut conn = self.conn.clone();
        let mut set = cmd("SET");
        set.arg(self.key(key)).arg(value).arg("PX").arg(millis);
        self.run("SET", set.query_async::<()>(&mut conn)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let mut get = cmd("GET");
        get.arg(self.key(key));
        self.run_typed("GET", get.query_async(&mut conn)).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let mut getdel = cmd("GETDEL");
        getdel.arg(self.key(key));
        self.run_typed("GETDEL", getdel.query_async(&mut conn))
            .await
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool> {
        let millis = check_write(key, value, ttl)?;
        let mut conn = self.conn.clone();
        let mut set = cmd("SET");
        set.arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis);
        // `OK` when stored, nil when the key exists.
        let reply: Value = self.run("SET NX", set.query_async(&mut conn)).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64> {
        check_key(key)?;
        let millis = ttl_millis(ttl)?;
        let mut conn = self.conn.clone();
        let mut invocation = self.increment.key(self.key(key));
        invocation.arg(millis);
        let reply = self.timed("INCR script", invocation.invoke_async::<i64>(&mut conn));
        let count = match reply.await? {
            Ok(count) => count,
            Err(e) if is_wrong_type(&e) => return Err(wrong_kind()),
            // INCR on a value that is not a decimal integer: a caller bug (the key holds
            // something `put` stored), not an outage, and the memory store says the same.
            Err(e) if e.to_string().contains("not an integer") => {
                return Err(Error::Invalid(
                    "ephemeral store value is not a counter".into(),
                ));
            }
            Err(e) => return Err(self.unavailable("INCR script", &e)),
        };
        u64::try_from(count)
            .map_err(|_| Error::Invalid("ephemeral store counter is negative".into()))
    }

    async fn add_to_set(&self, key: &str, member: &str, ttl: Duration) -> Result<()> {
        check_key(key)?;
        check_member(member)?;
        let millis = ttl_millis(ttl)?;
        let mut conn = self.conn.clone();
        let mut invocation = self.add_to_set.key(self.key(key));
        invocation.arg(member).arg(millis).arg(MAX_SET_MEMBERS);
        let reply: i64 = self
            .run_typed("SADD script", invocation.invoke_async(&mut conn))
            .await?;
        if reply < 0 {
            return Err(set_full());
        }
        Ok(())
    }

    async fn remove_from_set(&self, key: &str, member: &str) -> Result<bool> {
        check_key(key)?;
        check_member(member)?;
        let mut conn = self.conn.clone();
        let mut srem = cmd("SREM");
        srem.arg(self.key(key)).arg(member);
        let removed: u64 = self.run_typed("SREM", srem.query_async(&mut conn)).await?;
        Ok(removed > 0)
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let mut smembers = cmd("SMEMBERS");
        smembers.arg(self.key(key));
        self.run_typed("SMEMBERS", smembers.query_async(&mut conn))
            .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let mut del = cmd("DEL");
        del.arg(self.key(key));
        let removed: u64 = self.run("DEL", del.query_async(&mut conn)).await?;
        Ok(removed > 0)
    }

    async fn ping(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        self.run("PING", cmd("PING").query_async::<()>(&mut conn))
            .await
    }
}

/// Whether Redis refused a command because the key holds another type. Commands
/// report the `WRONGTYPE` code; from inside a script, older servers wrap it in a
/// generic script error, hence the message check too.
fn is_wrong_type(e: &RedisError) -> bool {
    e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE")
}

/// `url` with the password (everything between `user:` and `@`) replaced by `***`, so
/// it can go into messages and logs: `redis://:secret@host` -> `redis://:***@host`.
/// Errs on the side of hiding: with several `@`, everything up to the last one counts
/// as credentials.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL; it may be a bare password pasted in the wrong place.
        return "<unparsable URL>".to_owned();
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host) = rest.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{host}"),
        // A lone user name is not secret.
        None => url.to_owned(),
    }
}
