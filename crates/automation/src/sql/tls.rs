//! TLS of the SQL query component's PostgreSQL and MySQL connections.
//!
//! The level is libpq's `sslmode` (MySQL's `ssl-mode` names the same levels), taken out of
//! a connection string before the driver reads it:
//!
//! | level | PostgreSQL | MySQL | TLS | certificate |
//! |---|---|---|---|---|
//! | [`TlsMode::Disable`] | `disable` | `DISABLED` | never | — |
//! | [`TlsMode::Prefer`] | `prefer`, `allow` | `PREFERRED` | when the server offers it | not checked |
//! | [`TlsMode::Require`] | `require` | `REQUIRED` | always | not checked |
//! | [`TlsMode::VerifyCa`] | `verify-ca` | `VERIFY_CA` | always | chain to a trusted root |
//! | [`TlsMode::VerifyFull`] | `verify-full` | `VERIFY_IDENTITY` | always | chain and host name |
//!
//! Without a level (and always with connection parameters) it is `prefer`, the default of
//! both `psql` and the `mysql` client. `prefer` also connects in the clear when the TLS
//! handshake fails (old MySQL servers offer only TLS 1.0 and 1.1, which rustls does not
//! speak), as libpq does: a level that cannot stop an attacker who strips TLS loses nothing. Trusted roots are the bundled webpki roots and the
//! certificates of the host's `KARTOTEKA_SQL_CA_FILE` ([`super::SqlConfig::ca_file`]).

use std::path::Path;
use std::sync::Arc;

use kartoteka_engine::PortError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::{percent_decode, sql_error};

/// How a connection uses TLS (the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> Result<Self, PortError> {
        let v = value.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match v.as_str() {
            "disable" | "disabled" => Self::Disable,
            "allow" | "prefer" | "preferred" => Self::Prefer,
            "require" | "required" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" | "verify-identity" => Self::VerifyFull,
            _ => {
                return Err(sql_error(format!(
                    "sslmode: unknown level `{value}` (disable, prefer, require, verify-ca, \
                     verify-full; or MySQL's DISABLED, PREFERRED, REQUIRED, VERIFY_CA, \
                     VERIFY_IDENTITY)"
                )))
            }
        })
    }

    /// Whether the server's certificate is checked at all.
    fn verifies(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

/// The names a TLS level goes by in a connection string.
fn is_mode_key(key: &str) -> bool {
    ["sslmode", "ssl-mode", "ssl_mode"]
        .iter()
        .any(|k| key.trim().eq_ignore_ascii_case(k))
}

/// Connection string parameters of libpq (and node-postgres) and of the MySQL client that
/// name files: they would be files of this server, so they are refused.
const FILE_PARAMETERS: [&str; 10] = [
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslcrldir",
    "root_cert_path",
    "cert_chain_path",
    "priv_key_path",
    "pkcs12_path",
    "server_key_path",
];

/// The connection string without its TLS level, and the level it named. A URL's level is a
/// query parameter (`…/db?sslmode=require`); a libpq `key=value` string's is one of its
/// words. The rest of the string is kept byte for byte. A parameter naming a file
/// ([`FILE_PARAMETERS`]) is refused.
pub(super) fn take_mode(text: &str) -> Result<(String, Option<TlsMode>), PortError> {
    let mut mode = None;
    let mut take = |key: &str, value: &str| -> Result<bool, PortError> {
        // Drivers decode a URL's keys: `root%5Fcert%5Fpath` is `root_cert_path` to them. A
        // key whose escapes are not UTF-8 is checked as written.
        let raw = key.trim();
        let decoded = percent_decode(raw).unwrap_or_else(|| raw.to_owned());
        let key = decoded.as_str();
        if FILE_PARAMETERS.iter().any(|k| key.eq_ignore_ascii_case(k)) {
            return Err(sql_error(format!(
                "the connection string may not name files of this server ({key}); the \
                 certificates it trusts are set by KARTOTEKA_SQL_CA_FILE"
            )));
        }
        if !is_mode_key(key) {
            return Ok(false);
        }
        mode = Some(TlsMode::parse(value)?);
        Ok(true)
    };
    if text.contains("://") {
        let Some((head, query)) = text.split_once('?') else {
            return Ok((text.to_owned(), None));
        };
        let (query, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(k, v)? {
                kept.push(pair);
            }
        }
        let mut out = head.to_owned();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        return Ok((out, mode));
    }
    let Some(words) = key_values(text) else {
        return Ok((text.to_owned(), None));
    };
    let mut kept: Vec<String> = Vec::new();
    for (key, value) in words {
        if !take(&key, value.trim_matches('\''))? {
            kept.push(format!("{key}={value}"));
        }
    }
    Ok((kept.join(" "), mode))
}

/// The words of a libpq `key = value` string, each value as written (quotes and backslash
/// escapes kept), so that joining them again gives the same settings; `None` for text that
/// is not such a string (left for the driver to refuse).
fn key_values(text: &str) -> Option<Vec<(String, String)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i == chars.len() {
            return Some(out);
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_space(&mut i);
        if chars.get(i) != Some(&'=') {
            return None;
        }
        i += 1;
        skip_space(&mut i);
        let start = i;
        let quoted = chars.get(i) == Some(&'\'');
        if quoted {
            i += 1;
        }
        while i < chars.len() {
            match chars[i] {
                '\\' => i += 2,
                '\'' if quoted => {
                    i += 1;
                    break;
                }
                c if !quoted && c.is_whitespace() => break,
                _ => i += 1,
            }
        }
        let end = i.min(chars.len());
        out.push((key, chars[start..end].iter().collect()));
    }
}

/// The certificates of `KARTOTEKA_SQL_CA_FILE` (PEM).
fn extra_roots(ca_file: &Path) -> Result<Vec<CertificateDer<'static>>, PortError> {
    let failed = |e: &dyn std::fmt::Display| {
        sql_error(format!("KARTOTEKA_SQL_CA_FILE {}: {e}", ca_file.display()))
    };
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| failed(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(&e))?;
    if certs.is_empty() {
        return Err(failed(&"no PEM certificate in the file"));
    }
    Ok(certs)
}

/// Checks the server's certificate as far as the level asks; the handshake's signatures are
/// always checked.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    mode: TlsMode,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.mode.verifies() {
            return Ok(ServerCertVerified::assertion());
        }
        let checked = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match checked {
            // The chain is checked before the name: this failure means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.mode == TlsMode::VerifyCa => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Whether a connection failed in its TLS handshake (rustls refused it: a protocol version
/// or cipher the server lacks, say), which `prefer` answers by connecting again in the clear.
pub(super) fn handshake_failed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if err.is::<rustls::Error>() || inner.is_some_and(|i| i.is::<rustls::Error>()) {
            return true;
        }
        next = err.source();
    }
    false
}

/// Makes sure rustls has its process-wide provider (ring), which the MySQL client asks for
/// (and tiberius prefers to its aws-lc fallback): with both ring and aws-lc in the tree,
/// rustls would not pick one by itself.
pub(super) fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Already installed by someone else is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The TLS connector of a PostgreSQL connection at this level.
pub(super) fn postgres_connector(
    mode: TlsMode,
    ca_file: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PortError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let (Some(path), true) = (ca_file, mode.verifies()) {
        for cert in extra_roots(path)? {
            roots.add(cert).map_err(sql_error)?;
        }
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(sql_error)?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(sql_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { webpki, mode }))
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The MySQL client's TLS settings at this level; `None`: no TLS.
pub(super) fn mysql_ssl(
    mode: TlsMode,
    ca_file: Option<&Path>,
) -> Result<Option<mysql::SslOpts>, PortError> {
    let opts = match mode {
        TlsMode::Disable => return Ok(None),
        TlsMode::Prefer | TlsMode::Require => {
            mysql::SslOpts::default().with_danger_accept_invalid_certs(true)
        }
        TlsMode::VerifyCa => mysql::SslOpts::default().with_danger_skip_domain_validation(true),
        TlsMode::VerifyFull => mysql::SslOpts::default(),
    };
    Ok(Some(match ca_file {
        Some(path) if mode.verifies() => {
            // Read here too, so that a bad file is named as the setting it is.
            extra_roots(path)?;
            opts.with_root_cert_path(Some(path.to_path_buf()))
        }
        _ => opts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(text: &str) -> (String, Option<TlsMode>) {
        take_mode(text).unwrap_or_else(|e| (e.message, None))
    }

    #[test]
    fn the_level_leaves_a_url_and_the_rest_stays() {
        assert_eq!(
            taken("postgres://u:p%40ss@h:5432/db?application_name=a+b&sslmode=verify-full#x"),
            (
                "postgres://u:p%40ss@h:5432/db?application_name=a+b#x".to_string(),
                Some(TlsMode::VerifyFull)
            )
        );
        assert_eq!(
            taken("mysql://root@h/test?ssl-mode=VERIFY_IDENTITY"),
            ("mysql://root@h/test".to_string(), Some(TlsMode::VerifyFull))
        );
        assert_eq!(
            taken("mysql://root@h/test?SSL_MODE=required&compress=true"),
            (
                "mysql://root@h/test?compress=true".to_string(),
                Some(TlsMode::Require)
            )
        );
        assert_eq!(
            taken("postgres://h/db"),
            ("postgres://h/db".to_string(), None)
        );
        assert!(take_mode("postgres://h/db?sslmode=sometimes")
            .is_err_and(|e| e.message.contains("unknown level `sometimes`")));
        for named_file in [
            "postgres://h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            "host=h sslkey='/root/.postgresql/postgresql.key'",
            "mysql://root@h/test?root_cert_path=/etc/passwd",
            "mysql://root@h/test?root%5Fcert%5Fpath=/etc/passwd",
        ] {
            assert!(
                take_mode(named_file)
                    .is_err_and(|e| e.message.contains("may not name files of this server")),
                "{named_file}"
            );
        }
    }

    #[test]
    fn the_level_leaves_a_key_value_string_with_quotes_kept() {
        assert_eq!(
            taken(r"host=h password='a b\' c' sslmode = 'verify-ca'  dbname=x"),
            (
                r"host=h password='a b\' c' dbname=x".to_string(),
                Some(TlsMode::VerifyCa)
            )
        );
        assert_eq!(
            taken("host=h sslmode=disable"),
            ("host=h".to_string(), Some(TlsMode::Disable))
        );
        assert_eq!(
            TlsMode::parse("allow").ok(),
            Some(TlsMode::Prefer),
            "libpq's allow also ends up with TLS where the server offers it"
        );
        // Not a key=value string: handed on as it is, for the driver to say what is wrong.
        assert_eq!(taken("nonsense"), ("nonsense".to_string(), None));
    }

    #[test]
    fn a_refused_handshake_is_told_from_other_failures() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered),
        );
        assert!(handshake_failed(&refused));
        let refused_by_alert =
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion);
        assert!(handshake_failed(&refused_by_alert));
        let refused_connection = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!handshake_failed(&refused_connection));
    }

    #[test]
    fn the_ca_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("kt-sql-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("file");
        for path in [empty, dir.join("missing.pem")] {
            let e = postgres_connector(TlsMode::VerifyFull, Some(&path)).err();
            assert!(
                e.is_some_and(|e| e.message.contains("KARTOTEKA_SQL_CA_FILE")),
                "{}",
                path.display()
            );
        }
        // Levels that check nothing do not read it.
        assert!(postgres_connector(TlsMode::Require, Some(&dir.join("missing.pem"))).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
