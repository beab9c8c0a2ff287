//! A real SMTP server on loopback, in the test process, that keeps what it
//! receives: what the app's email notifications are sent to.
//!
//! It speaks the part of RFC 5321 that a client without TLS or sign-in
//! uses (greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-stuffing,
//! RSET, NOOP, QUIT): lettre talks to it as to any mail server, over TCP.
//! Why our own: the embeddable servers on crates.io either block threads
//! with no way to stop them (mailin-embedded) or cannot listen on port 0
//! and pull in a certificate generator on aws-lc (mailcrab). Reading the
//! received mail (encoded subjects, quoted-printable bodies) is left to
//! `mail-parser`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope: `MAIL FROM` and each `RCPT TO`, without the brackets.
    pub from: String,
    pub to: Vec<String>,
    /// The message itself (headers and body), dot-stuffing undone.
    pub data: Vec<u8>,
}

impl ReceivedMail {
    /// The decoded `Subject` header.
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The decoded plain-text body.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default()
    }

    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::new()
            .parse(&self.data)
            .expect("the received mail parses")
    }
}

/// The server; stops when dropped.
pub struct SmtpSink {
    address: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl SmtpSink {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Listens on this loopback port (0: a free one).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn({
            let (received, shutdown, tasks) = (received.clone(), shutdown.clone(), tasks.clone());
            async move {
                loop {
                    let (stream, _) = tokio::select! {
                        () = shutdown.cancelled() => return,
                        accepted = listener.accept() => accepted.unwrap(),
                    };
                    let (received, shutdown) = (received.clone(), shutdown.clone());
                    tasks.spawn(async move {
                        tokio::select! {
                            () = shutdown.cancelled() => {}
                            () = session(stream, received) => {}
                        }
                    });
                }
            }
        });
        Self {
            address,
            received,
            shutdown,
            tasks,
        }
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (with `eventually`'s deadline) until `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        super::eventually(&format!("{n} mail(s) at the SMTP server"), || async {
            let received = self.received();
            (received.len() >= n).then_some(received)
        })
        .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.tasks.close();
    }
}

/// One client's SMTP session, until QUIT or the connection closes.
async fn session(stream: TcpStream, received: Arc<Mutex<Vec<ReceivedMail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut reply = async |text: &str| write.write_all(text.as_bytes()).await.is_ok();
    if !reply("220 flowhq-test-smtp ESMTP ready\r\n").await {
        return;
    }
    let mut from = None::<String>;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-flowhq-test-smtp\r\n250 8BITMIME\r\n",
            "HELO" | "NOOP" => "250 OK\r\n",
            "RSET" => {
                (from, to) = (None, Vec::new());
                "250 OK\r\n"
            }
            "MAIL" => {
                from = Some(address_in(&command));
                "250 OK\r\n"
            }
            "RCPT" if from.is_some() => {
                to.push(address_in(&command));
                "250 OK\r\n"
            }
            "DATA" if !to.is_empty() => {
                if !reply("354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                received.lock().unwrap().push(ReceivedMail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                });
                "250 OK: queued\r\n"
            }
            "RCPT" | "DATA" => "503 Bad sequence of commands\r\n",
            "QUIT" => {
                reply("221 Bye\r\n").await;
                return;
            }
            _ => "502 Command not implemented\r\n",
        };
        if !reply(answer).await {
            return;
        }
    }
}

/// `MAIL FROM:<a@example.com> SIZE=1` → `a@example.com`.
fn address_in(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

/// The message after DATA, up to the lone `.`, with dot-stuffing undone.
async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}
