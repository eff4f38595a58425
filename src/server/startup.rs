//! Connection start-up: TLS requirement, connection limit, SCRAM-SHA-256
//! login against the configured verifiers (or password-less login when no
//! users are configured), then registration for cancel requests and in
//! `almasql.sessions`.
//!
//! The SASL exchange is ours rather than pgwire's `SASLAuthStartupHandler`
//! because pgwire's needs each user's salted password, which is enough to
//! log in as that user; we keep PostgreSQL-format verifiers (StoredKey and
//! ServerKey only) and check the client's proof against them.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use almasql_engine::auth::{SCRAM_SHA_256, ScramVerifier, server_nonce};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, PgWireConnectionState, PidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::Shared;
use super::sessions::OpenConnection;

/// The start-up handler of one connection (pgwire asks for one per
/// connection, so the SASL state here is that connection's).
pub struct AlmaStartup {
    shared: Arc<Shared>,
    /// Counts the connection as open while it lasts, and its number.
    open: (OpenConnection, usize),
    scram: Mutex<Scram>,
}

enum Scram {
    Initial,
    ServerFirstSent {
        gs2_header: String,
        auth_prefix: String,
        nonce: String,
        verifier: Option<ScramVerifier>,
    },
    Done,
}

fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message.into(),
    )))
}

fn auth_failed(user: &str) -> PgWireError {
    fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

fn protocol_violation(message: &str) -> PgWireError {
    fatal("08P01", format!("malformed SCRAM message: {message}"))
}

impl AlmaStartup {
    /// A handler for a new connection, counted as open until dropped.
    pub fn new(shared: Arc<Shared>) -> Self {
        let open = shared.sessions.open_connection();
        Self {
            shared,
            open,
            scram: Mutex::new(Scram::Initial),
        }
    }

    fn parameters(&self) -> DefaultServerParameterProvider {
        let mut p = DefaultServerParameterProvider::default();
        p.server_version = almasql_engine::pg_compat::PG_VERSION.to_string();
        p
    }

    /// Registers the logged-in connection and sends the rest of start-up.
    async fn finish<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, secret) = self.shared.pids.generate(&*client);
        client.set_pid_and_secret_key(pid, secret.clone());
        let (slot, cancel_guard) = self.shared.cancels.register(pid, &secret);
        client.session_extensions().insert(slot);
        client.session_extensions().insert(cancel_guard);
        let (handle, guard) = self.shared.connections.register(pid, secret);
        client
            .session_extensions()
            .insert::<Arc<ConnectionHandle>>(handle);
        client.session_extensions().insert::<ConnectionGuard>(guard);
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        let session = self.shared.sessions.login(
            pid,
            &user,
            client.socket_addr(),
            client
                .metadata()
                .get("application_name")
                .map(String::as_str),
        );
        client.session_extensions().insert(session);
        tracing::debug!(%user, peer = %client.socket_addr(), tls = client.is_secure(), "logged in");
        finish_authentication(client, &self.parameters()).await
    }

    /// Checks what can be checked before any credential is exchanged.
    fn admit<C: ClientInfo>(&self, client: &C) -> PgWireResult<()> {
        if self.shared.tls_required && !client.is_secure() {
            return Err(fatal(
                "28000",
                "this server accepts only TLS connections (use sslmode=require)",
            ));
        }
        if self.open.1 > self.shared.max_connections {
            return Err(fatal("53300", "sorry, too many clients already"));
        }
        Ok(())
    }

    fn client_first(&self, user: &str, data: &[u8]) -> PgWireResult<(Scram, String)> {
        let text = std::str::from_utf8(data).map_err(|_| protocol_violation("not UTF-8"))?;
        // gs2-header: "n,," or "y,," (we offer no channel binding), then
        // client-first-message-bare "n=<user>,r=<nonce>[,...]"
        let mut parts = text.splitn(3, ',');
        let cbind = parts.next().unwrap_or_default();
        let authzid = parts
            .next()
            .ok_or_else(|| protocol_violation("no gs2 header"))?;
        let bare = parts
            .next()
            .ok_or_else(|| protocol_violation("no client-first-message-bare"))?;
        if !(cbind == "n" || cbind == "y") {
            return Err(protocol_violation("channel binding is not offered"));
        }
        let client_nonce = bare
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| protocol_violation("no client nonce"))?;
        let verifier = self.shared.users.verifier(user);
        // an unknown user gets a made-up salt, so the exchange looks the
        // same as for a known one and fails only at the proof
        let (salt, iterations) = match &verifier {
            Some(v) => (v.salt.clone(), v.iterations),
            None => (
                ScramVerifier::from_password(&server_nonce(), 1).salt,
                almasql_engine::auth::DEFAULT_ITERATIONS,
            ),
        };
        let nonce = format!("{client_nonce}{}", server_nonce());
        let server_first = format!("r={nonce},s={},i={iterations}", BASE64.encode(salt));
        Ok((
            Scram::ServerFirstSent {
                gs2_header: format!("{cbind},{authzid},"),
                auth_prefix: format!("{bare},{server_first}"),
                nonce,
                verifier,
            },
            server_first,
        ))
    }
}

/// Checks the client-final message; returns the server-final message.
fn client_final(
    user: &str,
    data: &[u8],
    gs2_header: &str,
    auth_prefix: &str,
    nonce: &str,
    verifier: Option<&ScramVerifier>,
) -> PgWireResult<String> {
    let text = std::str::from_utf8(data).map_err(|_| protocol_violation("not UTF-8"))?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or_else(|| protocol_violation("no proof"))?;
    let mut binding = None;
    let mut client_nonce = None;
    for attr in without_proof.split(',') {
        if let Some(v) = attr.strip_prefix("c=") {
            binding = Some(v);
        } else if let Some(v) = attr.strip_prefix("r=") {
            client_nonce = Some(v);
        }
    }
    if binding.and_then(|b| BASE64.decode(b).ok()).as_deref() != Some(gs2_header.as_bytes()) {
        return Err(protocol_violation("channel binding does not match"));
    }
    if client_nonce != Some(nonce) {
        return Err(protocol_violation("nonce does not match"));
    }
    let proof = BASE64
        .decode(proof)
        .map_err(|_| protocol_violation("proof is not base64"))?;
    let auth_message = format!("{auth_prefix},{without_proof}");
    let signature = verifier
        .and_then(|v| v.verify_proof(auth_message.as_bytes(), &proof))
        .ok_or_else(|| auth_failed(user))?;
    Ok(format!("v={}", BASE64.encode(signature)))
}

#[async_trait]
impl StartupHandler for AlmaStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                self.admit(client)?;
                if self.shared.users.is_trust() {
                    return self.finish(client).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec![SCRAM_SHA_256.to_string()],
                    )))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                let state = std::mem::replace(&mut *self.scram.lock().expect("lock"), Scram::Done);
                match state {
                    Scram::Initial => {
                        let initial = msg.into_sasl_initial_response()?;
                        if initial.auth_method != SCRAM_SHA_256 {
                            return Err(fatal(
                                "28000",
                                format!("unsupported SASL mechanism {}", initial.auth_method),
                            ));
                        }
                        let data = initial
                            .data
                            .as_ref()
                            .ok_or_else(|| protocol_violation("empty client-first message"))?;
                        let (next, server_first) = self.client_first(&user, data)?;
                        *self.scram.lock().expect("lock") = next;
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.into_bytes().into()),
                            ))
                            .await?;
                    }
                    Scram::ServerFirstSent {
                        gs2_header,
                        auth_prefix,
                        nonce,
                        verifier,
                    } => {
                        let response = msg.into_sasl_response()?;
                        let outcome = client_final(
                            &user,
                            &response.data,
                            &gs2_header,
                            &auth_prefix,
                            &nonce,
                            verifier.as_ref(),
                        );
                        let server_final = match outcome {
                            Ok(f) => f,
                            Err(e) => {
                                tracing::info!(%user, peer = %client.socket_addr(), "login failed");
                                return Err(e);
                            }
                        };
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(server_final.into_bytes().into()),
                            ))
                            .await?;
                        self.finish(client).await?;
                    }
                    Scram::Done => return Err(protocol_violation("unexpected message")),
                }
            }
            _ => {}
        }
        Ok(())
    }
}
