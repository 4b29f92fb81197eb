//! What each content coding costs on a real feed, for choosing the levels
//! in `src/http/representation.rs`: wall-clock time (fastest of RUNS, so
//! that a busy machine's noise mostly falls away) and size of gzip at
//! levels 1 to 9, of the server's br and zstd, of decoding each back to
//! identity, and of the SHA-256 that makes the ETag.
//!
//! ```text
//! bantin dump > /tmp/all.rss
//! cargo run --release --example codings -- /tmp/all.rss [RUNS]
//! ```

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bantin::publish::Coding;
use bantin::publish::representation::compress;

fn fastest<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: codings FEED_FILE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(20);
    let body = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("codings: {path}: {e}");
        std::process::exit(1);
    });
    println!("{path}: {} bytes, fastest of {runs} runs", body.len());
    for level in 1..=9 {
        let (t, gz) = fastest(runs, || {
            let mut enc =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            enc.write_all(&body).expect("in memory");
            enc.finish().expect("in memory")
        });
        let (d, _) = fastest(runs, || {
            let mut out = Vec::with_capacity(body.len());
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .expect("our own gzip");
            out
        });
        println!(
            "gzip level {level}: {} bytes, compress {}, decode {}",
            gz.len(),
            ms(t),
            ms(d)
        );
    }
    for coding in [Coding::Gzip, Coding::Br, Coding::Zstd] {
        let (t, enc) = fastest(runs, || compress(coding, &body));
        let (d, _) = fastest(runs, || {
            let mut out = Vec::with_capacity(body.len());
            match coding {
                Coding::Gzip => flate2::read::GzDecoder::new(&enc[..]).read_to_end(&mut out),
                Coding::Br => brotli::Decompressor::new(&enc[..], 4096).read_to_end(&mut out),
                _ => zstd::stream::copy_decode(&enc[..], &mut out).map(|()| 0),
            }
            .expect("our own coding");
            out
        });
        println!(
            "server's {coding:?}: {} bytes, compress {}, decode {}",
            enc.len(),
            ms(t),
            ms(d)
        );
    }
    let (t, _) = fastest(runs, || bantin::publish::etag::content_tag(&body));
    println!("SHA-256 content tag: {}", ms(t));
}
