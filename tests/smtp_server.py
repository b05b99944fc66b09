"""Pytest plugin with real SMTP servers on 127.0.0.1 for email tests.

Fixtures: `smtp_server` (plain SMTP), `starttls_smtp_server` and `ssl_smtp_server` (TLS with a
certificate from a CA made at test time), `smtp_test_ca` (that CA's files), `silent_smtp_port`
(accepts TCP connections and never replies) and `closed_smtp_port` (refuses connections).
"""

import asyncio
import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
SILENT_SERVER_SECONDS = 5.0


@dataclass(frozen=True)
class ReceivedEmail:
    """One email as the test server received it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class RecordingHandler:
    """aiosmtpd handler that stores accepted emails and replies with the codes a test sets."""

    messages: list[ReceivedEmail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    recipient_reply: str | None = None
    data_reply: str | None = None
    credentials: tuple[str, str] | None = None
    # Recipient address -> "before_accept" (hold DATA before storing the email) or "after_accept"
    # (store it, then hold the 250 reply), so a test can kill a client at either moment.
    holds: dict[str, str] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    async def _hold(self, address: str) -> None:
        self.held.append(address)
        # Bounded to 60 s, so a test that never calls release_holds() cannot hang the server.
        for _ in range(1200):
            if self.release.is_set():
                return
            await asyncio.sleep(0.05)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"

        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.recipient_reply is not None:
            return self.recipient_reply

        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply is not None:
            return self.data_reply

        hold = next((self.holds.pop(address) for address in envelope.rcpt_tos if address in self.holds), None)
        if hold == "before_accept":
            await self._hold(envelope.rcpt_tos[0])
            return "451 4.3.0 Held by the test and not stored"

        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append(ReceivedEmail(envelope.mail_from, list(envelope.rcpt_tos), raw, message))
        if hold == "after_accept":
            await self._hold(envelope.rcpt_tos[0])
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)

        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        self.logins.append(login)
        return AuthResult(success=self.credentials == (login, password), handled=False)


class CountingController(Controller):
    """Controller that counts the SMTP sessions clients open."""

    connection_count = 0

    def factory(self):
        self.connection_count += 1
        return super().factory()


class SmtpTestServer:
    """A real aiosmtpd server on 127.0.0.1 whose replies a test can change."""

    def __init__(self, tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False):
        self.host = LOOPBACK
        self.port = free_port()
        self.handler = RecordingHandler()
        tls_options = {"ssl_context": tls_context} if implicit_tls else {"tls_context": tls_context}
        self._controller = CountingController(
            self.handler,
            hostname=self.host,
            port=self.port,
            authenticator=self.handler.authenticate,
            auth_require_tls=False,
            **tls_options,
        )

    def start(self) -> None:
        self._controller.start()
        # Controller.start() opens one session itself to check that the server runs.
        self._controller.connection_count = 0

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[ReceivedEmail]:
        return self.handler.messages

    @property
    def logins(self) -> list[str]:
        """Login names clients sent with AUTH, accepted or not."""
        return self.handler.logins

    @property
    def connection_count(self) -> int:
        return self._controller.connection_count

    def reset(self) -> None:
        """Forget received emails, logins and every reply a test set, as if the server were new."""
        self.handler.messages.clear()
        self.handler.logins.clear()
        self.handler.recipient_reply = None
        self.handler.data_reply = None
        self.handler.credentials = None
        self.handler.release.set()
        self.handler.holds.clear()
        self.handler.held.clear()
        self.handler.release = threading.Event()
        self._controller.connection_count = 0

    def hold(self, address: str, moment: str) -> None:
        """Hold the next email to `address` once, "before_accept" or "after_accept" it is stored."""
        self.handler.holds[address] = moment

    @property
    def held(self) -> list[str]:
        """Recipients whose email the server is holding or has held."""
        return self.handler.held

    def release_holds(self) -> None:
        self.handler.release.set()

    def reject_recipient(self, code: int = 550, text: str = "5.1.1 Mailbox unavailable") -> None:
        """Reply to every RCPT TO with this code from now on; each line of text is a reply line."""
        self.handler.recipient_reply = smtp_reply(code, text)

    def fail_data(self, code: int = 451, text: str = "4.3.0 Try again later") -> None:
        """Reply to every DATA with this code from now on, so no email is stored."""
        self.handler.data_reply = smtp_reply(code, text)

    def require_auth(self, user: str, password: str) -> None:
        """Reject MAIL FROM with 530 until a client logs in, and bad credentials with 535."""
        self.handler.credentials = (user, password)


@dataclass(frozen=True)
class LocalCertificateAuthority:
    """Files of a CA made for one test session and a server certificate it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        """Return a verifying client context that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def smtp_reply(code: int, text: str) -> str:
    """Build an SMTP reply, multiline ("550-first", "550 last") when text has several lines."""
    lines = text.splitlines()
    continued = [f"{code}-{line}" for line in lines[:-1]]
    return "\r\n".join([*continued, f"{code} {lines[-1]}"])


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def make_certificate_authority(directory: Path) -> LocalCertificateAuthority:
    """Write a CA certificate and a server certificate for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regiojet-watch test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    authority = LocalCertificateAuthority(
        ca_file=directory / "ca.pem", cert_file=directory / "server.pem", key_file=directory / "server.key"
    )
    authority.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    authority.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    authority.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return authority


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="session")
def smtp_test_ca(tmp_path_factory) -> LocalCertificateAuthority:
    return make_certificate_authority(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_server():
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def starttls_smtp_server(smtp_test_ca):
    server = SmtpTestServer(tls_context=smtp_test_ca.server_context())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssl_smtp_server(smtp_test_ca):
    server = SmtpTestServer(tls_context=smtp_test_ca.server_context(), implicit_tls=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_smtp_port():
    """Yield a port whose listener completes the TCP handshake but never sends a greeting.

    After SILENT_SERVER_SECONDS the listener closes, which resets waiting connections, so a
    client without a timeout fails the test with a reset instead of hanging it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(8)
        closer = threading.Timer(SILENT_SERVER_SECONDS, listener.close)
        closer.start()
        yield listener.getsockname()[1]
        closer.cancel()


@pytest.fixture
def closed_smtp_port():
    """Yield a port that is bound but not listening, so connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as placeholder:
        placeholder.bind((LOOPBACK, 0))
        yield placeholder.getsockname()[1]
