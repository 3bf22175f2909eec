//! `ducq`'s connection options and how they become a connection: the
//! address (the port defaulting by `--tls` and `--ws`), TCP, WebSocket,
//! TLS or a Unix socket, and `auth` when `--user` is given. Nothing here
//! parses arguments or prints.

use std::time::Duration;

use ducq::client::reconnect::Connector;
use ducq::client::{Client, Error, NetStream, Wire};

use crate::{usage, Failure};

/// Where and how `ducq` connects: the connection options of the command
/// line.
pub struct Conn {
    pub host: String,
    pub port: Option<u16>,
    pub ws: bool,
    pub tls: bool,
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub unix: Option<String>,
    pub user: Option<String>,
    pub timeout: Duration,
}

impl Conn {
    /// Where it connects, as messages name it: the socket path, or
    /// `host:port` (the port defaulting by --tls and --ws).
    pub fn addr(&self) -> String {
        if let Some(path) = &self.unix {
            return path.clone();
        }
        let port = self.port.unwrap_or(match (self.tls, self.ws) {
            (false, false) => 59090,
            (false, true) => 59091,
            (true, false) => 59092,
            (true, true) => 59093,
        });
        format!("{}:{}", self.host, port)
    }

    /// A connection, or a failure that says where it could not connect.
    pub fn open(&self) -> Result<Client<NetStream>, Failure> {
        let addr = self.addr();
        let mut connect = self.connector()?;
        connect().map_err(|e| match e {
            // Refused credentials are the server's answer, not a failure
            // to connect.
            e @ Error::Nack { .. } => Failure::from(e),
            e => Failure::Other(format!("could not connect to {addr}: {e}")),
        })
    }

    /// Makes a fresh connection each time it is called (for reconnecting):
    /// over a Unix socket, TLS or TCP (WebSocket when asked), then
    /// `auth` when --user is given (the password from DUCQ_PASSWORD).
    pub fn connector(&self) -> Result<Connector<NetStream>, Failure> {
        let (addr, timeout) = (self.addr(), self.timeout);
        let wire = if self.ws { Wire::Ws } else { Wire::Framed };
        let dial: Box<dyn Fn() -> Result<Client<NetStream>, Error>> = if self.unix.is_some() {
            Box::new(move || Client::connect_unix(addr.as_ref(), timeout))
        } else if self.tls {
            if self.cert.is_some() != self.key.is_some() {
                return Err(usage("--cert and --key go together"));
            }
            let files = ducq::tls::ClientTlsFiles {
                ca: self.ca.clone(),
                cert_key: self.cert.clone().zip(self.key.clone()),
            };
            let config = ducq::tls::client_config(&files).map_err(Failure::Other)?;
            Box::new(move || Client::connect_tls(&addr, timeout, config.clone(), wire))
        } else {
            Box::new(move || Client::connect_net(&addr, timeout, wire))
        };
        let user = self.user.clone();
        Ok(Box::new(move || {
            let mut client = dial()?;
            if let Some(user) = &user {
                let password = std::env::var("DUCQ_PASSWORD").unwrap_or_default();
                client.authenticate(user, password.as_bytes())?;
            }
            Ok(client)
        }))
    }
}
