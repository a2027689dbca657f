//! Bulk load and export with COPY: generates a CSV file, loads it with a
//! progress bar, exports the table again, and checks both files match.
//! Prints the process's peak memory, which stays flat whatever the row count.
//!
//! ```text
//! cargo run --release --example copy                 # 1,000,000 rows
//! cargo run --release --example copy -- 10000000     # 10M rows
//! ```
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use tokio::io::AsyncWriteExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Writes `rows` CSV rows (id, name, timestamp) without holding them in memory.
fn generate(path: &Path, rows: u64) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for i in 0..rows {
        let secs = i % 86_400;
        writeln!(
            out,
            "{i},\"item {i}\",2024-01-01 {:02}:{:02}:{:02}+00",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn bar(done: u64, total: u64) -> String {
    let width = 40;
    let filled = (done.min(total) * width / total.max(1)) as usize;
    format!(
        "[{}{}] {:>3}%",
        "#".repeat(filled),
        " ".repeat(width as usize - filled),
        done.min(total) * 100 / total.max(1)
    )
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let (url, _server) = pgline_testkit::database_url_or_start("copy", "copy-secret", "copy")?;
    let dir = tempfile_dir()?;
    let source = dir.join("source.csv");
    let exported = dir.join("exported.csv");
    let size = generate(&source, rows)?;
    println!(
        "generated {rows} rows ({:.1} MiB) in {}",
        size as f64 / 1048576.0,
        source.display()
    );

    let client = pgline::connect(&url).await?;
    client
        .batch_execute(
            "SET TimeZone = 'UTC';
             DROP TABLE IF EXISTS copy_example;
             CREATE TABLE copy_example (id int8, name text, at timestamptz)",
        )
        .await?;

    // Load, with a progress bar fed by the sink's progress channel.
    let started = Instant::now();
    let mut sink = client
        .copy_in("COPY copy_example FROM STDIN (FORMAT csv)")
        .await?;
    let mut progress = sink.progress();
    let printer = tokio::spawn(async move {
        while progress.changed().await.is_ok() {
            let bytes = progress.borrow().bytes;
            eprint!("\rloading   {}", bar(bytes, size));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let file = tokio::fs::File::open(&source).await?;
    sink.send_from(file).await?;
    let loaded = sink.finish().await?;
    printer.abort();
    let secs = started.elapsed().as_secs_f64();
    eprintln!("\rloading   {}", bar(size, size));
    println!(
        "loaded {loaded} rows in {secs:.2} s ({:.0} rows/s); peak RSS {:.1} MiB",
        loaded as f64 / secs,
        peak_rss_mib()
    );

    // Export, writing chunks straight to a file.
    let started = Instant::now();
    let mut out = client
        .copy_out("COPY (SELECT * FROM copy_example ORDER BY id) TO STDOUT (FORMAT csv, FORCE_QUOTE (name))")
        .await?;
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&exported).await?);
    let mut written = 0u64;
    while let Some(chunk) = out.next().await {
        let chunk = chunk?;
        written += chunk.len() as u64;
        file.write_all(&chunk).await?;
        if out.progress().borrow().rows % 200_000 == 0 {
            eprint!("\rexporting {}", bar(written, size));
        }
    }
    file.flush().await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("\rexporting {}", bar(size, size));
    println!(
        "exported {} rows in {secs:.2} s ({:.0} rows/s); peak RSS {:.1} MiB",
        out.rows_affected().unwrap_or(0),
        rows as f64 / secs,
        peak_rss_mib()
    );

    let same = files_equal(&source, &exported)?;
    println!(
        "the exported file {} the generated one",
        if same { "matches" } else { "DIFFERS FROM" }
    );
    client.batch_execute("DROP TABLE copy_example").await?;
    std::fs::remove_dir_all(&dir)?;
    if !same {
        return Err("round trip mismatch".into());
    }
    Ok(())
}

fn files_equal(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut a, mut b) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut x)?;
        let m = read_full(&mut b, &mut y)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match f.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pgline-copy-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
