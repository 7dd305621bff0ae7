//! Download tests against a throw-away HTTP server on 127.0.0.1 serving synthetic fixtures.
#![cfg(feature = "download")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gan_data::checksum::content_sha256;
use gan_data::idx::encode_idx;
use gan_data::{DataError, DataFile, FetchOutcome, Fetcher, Mirror, NoProgress};

/// What the server does for one path.
#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    NotFound,
    /// Announces the full length, sends half, then closes the connection.
    DropMidBody(Vec<u8>),
}

struct Server {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &routes, &counter);
            }
        });
        Server { base, hits }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn serve(
    mut stream: TcpStream,
    routes: &HashMap<String, Reply>,
    hits: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    match routes.get(&path).cloned().unwrap_or(Reply::NotFound) {
        Reply::Ok(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        Reply::NotFound => {
            stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
        }
        Reply::DropMidBody(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
        }
    }
    Ok(())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A synthetic labels file, its gzipped bytes and its spec (checksum of the raw content).
fn fixture(name: &str) -> (Vec<u8>, DataFile) {
    let raw = encode_idx(
        &[1000],
        &(0..1000u32).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw");
    std::fs::write(&path, &raw).unwrap();
    let spec = DataFile {
        gz_name: format!("{name}.gz"),
        raw_name: name.to_owned(),
        sha256: content_sha256(&path).unwrap(),
    };
    (gzip(&raw), spec)
}

fn fetcher(mirrors: Vec<Mirror>) -> Fetcher {
    Fetcher::new(mirrors)
        .retries(1)
        .backoff(Duration::from_millis(1))
        .timeout(Duration::from_secs(5))
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn fetches_verifies_and_installs() {
    let (gz, spec) = fixture("labels");
    let server = Server::start(HashMap::from([(
        "/labels.gz".to_owned(),
        Reply::Ok(gz.clone()),
    )]));
    let target = tempfile::tempdir().unwrap();
    let outcome = fetcher(vec![Mirror::parse(&server.base).unwrap()])
        .fetch(target.path(), &spec, &NoProgress)
        .unwrap();
    let installed = target.path().join("labels.gz");
    assert_eq!(
        outcome,
        FetchOutcome::Fetched {
            path: installed.clone(),
            from: server.base.clone(),
            bytes: gz.len() as u64
        }
    );
    assert_eq!(std::fs::read(&installed).unwrap(), gz);
    assert_eq!(dir_entries(target.path()), vec!["labels.gz"]);
}

#[test]
fn second_run_transfers_nothing() {
    let (gz, spec) = fixture("labels");
    let server = Server::start(HashMap::from([("/labels.gz".to_owned(), Reply::Ok(gz))]));
    let target = tempfile::tempdir().unwrap();
    let f = fetcher(vec![Mirror::parse(&server.base).unwrap()]);
    f.fetch(target.path(), &spec, &NoProgress).unwrap();
    let again = f.fetch(target.path(), &spec, &NoProgress).unwrap();
    assert_eq!(
        again,
        FetchOutcome::AlreadyPresent(target.path().join("labels.gz"))
    );
    assert_eq!(server.hits("/labels.gz"), 1);
}

#[test]
fn not_found_falls_through_to_the_next_mirror() {
    let (gz, spec) = fixture("labels");
    let empty = Server::start(HashMap::new());
    let good = Server::start(HashMap::from([("/labels.gz".to_owned(), Reply::Ok(gz))]));
    let target = tempfile::tempdir().unwrap();
    let outcome = fetcher(vec![
        Mirror::parse(&empty.base).unwrap(),
        Mirror::parse(&good.base).unwrap(),
    ])
    .fetch(target.path(), &spec, &NoProgress)
    .unwrap();
    assert!(matches!(outcome, FetchOutcome::Fetched { ref from, .. } if *from == good.base));
    assert_eq!(empty.hits("/labels.gz"), 1, "a 404 is not retried");
}

#[test]
fn checksum_mismatch_is_an_error_and_leaves_no_file() {
    let (_, spec) = fixture("labels");
    let wrong = gzip(b"not the labels");
    let server = Server::start(HashMap::from([("/labels.gz".to_owned(), Reply::Ok(wrong))]));
    let target = tempfile::tempdir().unwrap();
    let err = fetcher(vec![Mirror::parse(&server.base).unwrap()])
        .fetch(target.path(), &spec, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, DataError::AllMirrorsFailed { .. }));
    let message = err.to_string();
    assert!(
        message.contains("labels.gz") && message.contains(&spec.sha256),
        "{message}"
    );
    assert!(message.contains("SHA-256"), "{message}");
    assert!(
        dir_entries(target.path()).is_empty(),
        "{:?}",
        dir_entries(target.path())
    );
}

/// A fetch into a folder it had to create, that gets nothing, leaves no empty folder behind.
#[test]
fn a_failed_fetch_leaves_no_new_folder() {
    let (_, spec) = fixture("labels");
    let nowhere = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let new = target.path().join("mnist");
    let err = fetcher(vec![
        Mirror::parse(&nowhere.path().display().to_string()).unwrap()
    ])
    .fetch(&new, &spec, &NoProgress)
    .unwrap_err();
    assert!(matches!(err, DataError::AllMirrorsFailed { .. }), "{err}");
    assert!(!new.exists(), "{} was left behind", new.display());
}

#[test]
fn dropped_connection_is_retried_then_fails_cleanly() {
    let (gz, spec) = fixture("labels");
    let server = Server::start(HashMap::from([(
        "/labels.gz".to_owned(),
        Reply::DropMidBody(gz),
    )]));
    let target = tempfile::tempdir().unwrap();
    let err = fetcher(vec![Mirror::parse(&server.base).unwrap()])
        .fetch(target.path(), &spec, &NoProgress)
        .unwrap_err();
    assert_eq!(
        server.hits("/labels.gz"),
        2,
        "one retry after a transient fault"
    );
    assert!(err.to_string().contains("labels.gz"), "{err}");
    assert!(
        dir_entries(target.path()).is_empty(),
        "{:?}",
        dir_entries(target.path())
    );
}

#[test]
fn unreachable_mirror_then_local_directory() {
    let (gz, spec) = fixture("labels");
    // Nothing listens on a port we bound and released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("labels.gz"), &gz).unwrap();
    let target = tempfile::tempdir().unwrap();
    let outcome = fetcher(vec![
        Mirror::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        Mirror::parse(&local.path().display().to_string()).unwrap(),
    ])
    .fetch(target.path(), &spec, &NoProgress)
    .unwrap();
    assert!(matches!(outcome, FetchOutcome::Fetched { .. }));
    assert_eq!(std::fs::read(target.path().join("labels.gz")).unwrap(), gz);
}

#[test]
fn corrupt_existing_file_is_replaced() {
    let (gz, spec) = fixture("labels");
    let server = Server::start(HashMap::from([(
        "/labels.gz".to_owned(),
        Reply::Ok(gz.clone()),
    )]));
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("labels.gz"), b"garbage").unwrap();
    let outcome = fetcher(vec![Mirror::parse(&server.base).unwrap()])
        .fetch(target.path(), &spec, &NoProgress)
        .unwrap();
    assert!(matches!(outcome, FetchOutcome::Fetched { .. }));
    assert_eq!(std::fs::read(target.path().join("labels.gz")).unwrap(), gz);
}

#[test]
fn counts_downloads_in_progress() {
    struct Count(AtomicUsize);
    impl gan_data::FetchProgress for Count {
        fn advanced(&self, bytes: u64) {
            self.0.fetch_add(bytes as usize, Ordering::Relaxed);
        }
    }
    let (gz, spec) = fixture("labels");
    let server = Server::start(HashMap::from([(
        "/labels.gz".to_owned(),
        Reply::Ok(gz.clone()),
    )]));
    let target = tempfile::tempdir().unwrap();
    let count = Count(AtomicUsize::new(0));
    fetcher(vec![Mirror::parse(&server.base).unwrap()])
        .fetch(target.path(), &spec, &count)
        .unwrap();
    assert_eq!(count.0.load(Ordering::Relaxed), gz.len());
}

#[test]
fn mirror_parsing() {
    assert!(matches!(Mirror::parse("https://x/y"), Ok(Mirror::Url(_))));
    assert!(matches!(Mirror::parse("file:///data"), Ok(Mirror::Dir(p)) if p == Path::new("/data")));
    assert!(matches!(
        Mirror::parse("../shared/data/mnist"),
        Ok(Mirror::Dir(_))
    ));
    assert!(Mirror::parse("ftp://x").is_err());
    assert!(Mirror::parse(" ").is_err());
}
