//! TOML pieces for the configuration files the auth, ACL and TLS tests
//! write: one function per table, so a listener, a user or the anonymous
//! lists are spelled the same way in every test. Each piece ends in a
//! newline; join them with `concat()`. It only builds text: writing the
//! file and starting the server is `config_server`'s job.

/// `["a", "b"]`: a TOML array of strings (the tests' routes need no
/// escaping).
fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A `[[listener]]` of `kind` on a free loopback port; `more` holds
/// further `key = value` lines (`anonymous = false`, `cert = "…"`), each
/// ending in a newline.
pub fn listener(kind: &str, more: &str) -> String {
    format!("\n[[listener]]\nkind = \"{kind}\"\naddr = \"127.0.0.1:0\"\n{more}")
}

/// A `[[user]]` with these access lists; `phc` is the password as
/// `hash` made it, or `None` for a user known only by a client
/// certificate.
pub fn user(name: &str, phc: Option<&str>, publish: &[&str], subscribe: &[&str]) -> String {
    let password = phc.map_or(String::new(), |p| format!("password = \"{p}\"\n"));
    format!(
        "\n[[user]]\nname = \"{name}\"\n{password}publish = {}\nsubscribe = {}\n",
        list(publish),
        list(subscribe)
    )
}

/// An admin `[[user]]` allowed every route.
pub fn admin(name: &str, phc: &str) -> String {
    format!("{}admin = true\n", user(name, Some(phc), &["*"], &["*"]))
}

/// The `[anonymous]` access lists.
pub fn anonymous(publish: &[&str], subscribe: &[&str]) -> String {
    format!(
        "\n[anonymous]\npublish = {}\nsubscribe = {}\n",
        list(publish),
        list(subscribe)
    )
}

/// `[auth]` with a short `fail_delay` (seconds) so that tests of wrong
/// passwords stay fast; `more` holds further lines.
pub fn auth(fail_delay: f64, more: &str) -> String {
    format!("\n[auth]\nfail_delay = {fail_delay}\n{more}")
}

/// `[queues]` without a data directory: queues in memory only.
pub fn memory_queues() -> String {
    "\n[queues]\ndata_dir = \"none\"\n".to_string()
}
