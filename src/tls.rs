//! TLS configuration for both ends: certificates and keys read from PEM
//! files, a rustls `ServerConfig` (optionally requiring client certificates
//! signed by a CA file) and `ClientConfig` (trusting a CA file or the
//! system store), and the user name a client certificate carries. Every
//! error is a sentence naming the file. It must not do I/O on connections:
//! the server drives rustls sans-IO (`server::tls`), the client wraps a
//! stream (`client::net`).
//!
//! The ring crypto provider is named explicitly everywhere, so no process
//! default provider has to be installed and none can be picked by surprise.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Where a server's certificate, key and (optional) client CA are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// PEM CA certificates: when set, clients must present a certificate
    /// signed by one of them.
    pub client_ca: Option<String>,
}

/// What a client trusts and presents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// PEM CA certificates to trust; `None` trusts the system's store.
    pub ca: Option<String>,
    /// A client certificate chain and its key, for servers that ask.
    pub cert_key: Option<(String, String)>,
}

fn certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{path}: {}", pem_error(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{path}: {}", pem_error(e)))?;
    if certs.is_empty() {
        let why = if pem_holds(path, "PRIVATE KEY-----") {
            "no certificate in it, only a private key (certificate and key swapped?)"
        } else {
            "no PEM certificate in it"
        };
        return Err(format!("{path}: {why}"));
    }
    Ok(certs)
}

fn key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!("{path}: {}", no_key(path)),
        e => format!("{path}: {}", pem_error(e)),
    })
}

/// Why a PEM file that was read holds no usable private key, from what it
/// holds instead.
fn no_key(path: &str) -> &'static str {
    if pem_holds(path, "-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || pem_holds(path, "Proc-Type: 4,ENCRYPTED")
    {
        "the private key is protected by a passphrase; give it without one \
         (openssl pkey -in KEY -out PLAIN)"
    } else if pem_holds(path, "-----BEGIN CERTIFICATE-----") {
        "no private key in it, only a certificate (certificate and key swapped?)"
    } else {
        "no PEM private key in it (PKCS#8, PKCS#1 or SEC1)"
    }
}

/// Whether the file at `path` contains `label` (for error messages only).
fn pem_holds(path: &str, label: &str) -> bool {
    std::fs::read(path).is_ok_and(|t| t.windows(label.len()).any(|w| w == label.as_bytes()))
}

/// A certificate chain and key rustls refused together.
fn pair_error(cert: &str, key: &str, e: rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => {
            format!("{key}: the private key does not belong to the certificate in {cert}")
        }
        e => format!("{cert} / {key}: {e}"),
    }
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of the expected kind".into(),
        other => format!("invalid PEM: {other:?}"),
    }
}

fn roots(path: &str) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for c in certs(path)? {
        store
            .add(c)
            .map_err(|e| format!("{path}: unusable CA certificate: {e}"))?;
    }
    Ok(store)
}

/// A server configuration from PEM files. `alpn` lists the protocols to
/// offer (`http/1.1` on an HTTPS listener; empty for framed ducq).
pub fn server_config(files: &ServerTlsFiles, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, String> {
    let chain = certs(&files.cert)?;
    let key = key(&files.key)?;
    let provider = Arc::new(default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider)
                    .build()
                    .map_err(|e| format!("{ca}: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| pair_error(&files.cert, &files.key, e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration: trust the CA file (or the system store), and
/// present a client certificate when one is given.
pub fn client_config(files: &ClientTlsFiles) -> Result<Arc<ClientConfig>, String> {
    let store = match &files.ca {
        Some(ca) => roots(ca)?,
        None => {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = store.add(c);
            }
            if store.is_empty() {
                return Err(
                    "no trusted CA certificates in the system store (use --ca FILE)".into(),
                );
            }
            store
        }
    };
    let builder = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(store);
    let config = match &files.cert_key {
        Some((cert, k)) => builder
            .with_client_auth_cert(certs(cert)?, key(k)?)
            .map_err(|e| pair_error(cert, k, e))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name a client checks the server's certificate against: an IP
/// address or a DNS name (`host` without its port).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned())
        .map_err(|_| format!("'{host}' is not a valid server name"))
}

/// The subject common name of a DER certificate (the user a verified
/// client certificate names), if it has one in UTF-8.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// Whether `path` exists and is readable, for configuration checks that
/// should name the file before anything else fails.
pub fn readable(path: &str) -> Result<(), String> {
    std::fs::File::open(Path::new(path))
        .map(drop)
        .map_err(|e| format!("{path}: {e}"))
}
